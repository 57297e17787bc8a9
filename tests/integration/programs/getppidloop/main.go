// getppidloop makes an exact number of getppid(2) calls in each phase of a traced run:
// argv[1] at start, argv[2] on each SIGUSR1 (the exercise), argv[3] on SIGTERM, then exits 5.
// syscall.Getppid is one raw system call, and the Go runtime makes none of its own.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func burst(n int) {
	for i := 0; i < n; i++ {
		syscall.Getppid()
	}
}

func count(arg string) int {
	n, err := strconv.Atoi(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return n
}

func main() {
	start, exercise, shutdown := count(os.Args[1]), count(os.Args[2]), count(os.Args[3])
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	burst(start)
	fmt.Println("ready")
	for s := range sigs {
		if s == syscall.SIGUSR1 {
			burst(exercise)
			continue
		}
		burst(shutdown)
		os.Exit(5)
	}
}
