// Command threadonly makes its distinctive system call, sysinfo(2), only on a goroutine locked to
// an OS thread other than the main one, and prints that thread's id. A tracer that follows only the
// main thread misses the call.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

func init() {
	// Keep main on the initial (main) OS thread, so the worker below must run on another one.
	runtime.LockOSThread()
}

func main() {
	mainTid := syscall.Gettid()
	type result struct {
		tid    int
		uptime int64
		err    error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var info syscall.Sysinfo_t
		err := syscall.Sysinfo(&info)
		done <- result{syscall.Gettid(), int64(info.Uptime), err}
	}()
	r := <-done
	if r.err != nil {
		fmt.Fprintln(os.Stderr, "sysinfo:", r.err)
		os.Exit(1)
	}
	if r.tid == mainTid {
		fmt.Fprintln(os.Stderr, "worker ran on the main thread")
		os.Exit(1)
	}
	fmt.Printf("pid=%d main_tid=%d sysinfo_tid=%d uptime=%d\n", os.Getpid(), mainTid, r.tid, r.uptime)
}
