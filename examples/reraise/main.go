// Command reraise is a small HTTP service that ends on SIGTERM the way many servers do: it
// catches the signal with os/signal.Notify, cleans up (closes its listener), then restores the
// default action with signal.Reset and sends SIGTERM to itself, so that its parent sees it
// "killed by SIGTERM" as if it had never caught the signal.
//
// As the process 1 of a container the re-raised signal does not kill it: the kernel does not
// deliver a signal whose action is the default to the init process of a pid namespace
// (pid_namespaces(7), kernel/signal.c). Go's runtime, which keeps its own handler installed,
// sees that it is still alive and exits with 128+SIGTERM (143) through exit_group
// (src/runtime/signal_unix.go, dieFromSignal: "this probably means we're PID 1"). Should the
// signal be ignored without that (another runtime), the program waits -wait, then returns from
// main and exits 0, through exit_group as well. Anywhere but process 1 it dies of the signal
// and never calls exit_group, which is why a trace must run it as process 1.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free port)")
	wait := flag.Duration("wait", 200*time.Millisecond, "how long to wait for the re-raised SIGTERM before exiting by itself")
	flag.Parse()
	log.SetFlags(0)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	log.Printf("listening on %s (pid %d)", ln.Addr(), os.Getpid())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		log.Fatalf("serve: %v", err)
	case <-sigs:
	}

	// Clean up, then end "by the signal": restore its default action and send it again.
	if err := srv.Close(); err != nil {
		log.Printf("close: %v", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("serve: %v", err)
	}
	log.Printf("cleaned up; re-raising SIGTERM")
	signal.Reset(syscall.SIGTERM)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		log.Printf("kill: %v", err)
	}
	// Still alive: the signal was not delivered, as for a pid namespace's process 1 (Go's
	// runtime normally exits 143 before this point; see the package comment).
	time.Sleep(*wait)
	log.Printf("still running after SIGTERM (process 1 of a pid namespace?); exiting 0")
}
