// Command echoserver is the small Go workload whose strace output is recorded in
// traces/recorded: an HTTP echo server on 127.0.0.1 that exercises itself with a few
// concurrent clients, runs one child process, then sends itself SIGTERM and shuts down.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	requests := flag.Int("n", 20, "requests per client")
	clients := flag.Int("c", 4, "concurrent clients")
	child := flag.String("child", "/bin/true", "program to run once as a child (empty: none)")
	flag.Parse()

	// A missing file gives the trace an ENOENT failure.
	if _, err := os.Open("/nonexistent/echoserver.conf"); err == nil {
		fmt.Fprintln(os.Stderr, "unexpected config file")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	url := "http://" + ln.Addr().String() + "/echo"
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < *requests; i++ {
				resp, err := client.Post(url, "text/plain", strings.NewReader(fmt.Sprintf("hello %d %d", c, i)))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			client.CloseIdleConnections()
		}(c)
	}
	wg.Wait()

	if *child != "" {
		_ = exec.Command(*child).Run()
	}

	// Ask for our own shutdown the way an orchestrator would.
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	fmt.Println("echoserver: done")
}
