// mkdirprobe creates the directory named by its first argument and reports how that went.
//
// It is the workload of the enforcement tests: a static binary for a FROM scratch image, whose
// one interesting system call (mkdirat on amd64, via os.Mkdir) a seccomp profile can deny.
// Exit status: 0 created, 3 denied with EPERM, 1 any other failure, 2 usage.
package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkdirprobe DIR")
		os.Exit(2)
	}
	err := os.Mkdir(os.Args[1], 0o755)
	switch {
	case err == nil:
		fmt.Println("mkdir: ok")
	case errors.Is(err, syscall.EPERM):
		fmt.Println("mkdir: EPERM")
		os.Exit(3)
	default:
		fmt.Printf("mkdir: %v\n", err)
		os.Exit(1)
	}
}
