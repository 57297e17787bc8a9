// Command noop exits 0 at once. It is the workload of `seccompgen runtime-baseline`: a static
// program that makes only the Go runtime's start-up calls, so the audit records logged before
// its execve completes belong to the container runtime's init process alone.
package main

func main() {}
