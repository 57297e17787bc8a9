// Command loadgen is a small HTTP load generator for loopback targets. It keeps -c connections busy
// for -d (or until -n requests are done) and prints the result as one JSON object on stdout. It
// refuses any URL whose host is not a loopback address, so it cannot be pointed at other machines.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Requests    int64    `json:"requests"`
	Errors      int64    `json:"errors"`
	Seconds     float64  `json:"seconds"`
	RequestsPS  float64  `json:"requests_per_second"`
	Connections int      `json:"connections"`
	URLs        []string `json:"urls"`
}

func main() {
	conns := flag.Int("c", 4, "concurrent connections")
	dur := flag.Duration("d", 0, "duration (e.g. 5s); 0 means use -n")
	total := flag.Int64("n", 0, "total requests when -d is 0")
	wait := flag.Duration("wait", 5*time.Second, "how long to wait for the target to accept connections")
	flag.Parse()
	urls := flag.Args()
	if len(urls) == 0 || *conns < 1 || (*dur <= 0 && *total <= 0) {
		fmt.Fprintln(os.Stderr, "usage: loadgen [-c N] (-d DURATION | -n REQUESTS) URL...")
		os.Exit(2)
	}
	for _, u := range urls {
		if err := checkLoopback(u); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
	}

	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true},
		Timeout:   10 * time.Second,
	}
	if err := waitReady(client, urls[0], *wait); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}

	ctx := context.Background()
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	var done, failed, issued atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := i; ctx.Err() == nil; k += *conns {
				if *dur <= 0 && issued.Add(1) > *total {
					return
				}
				if err := get(ctx, client, urls[k%len(urls)]); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				done.Add(1)
			}
		}(i)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	out := result{done.Load(), failed.Load(), secs, float64(done.Load()) / secs, *conns, urls}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
	if out.Errors > 0 && out.Requests == 0 {
		os.Exit(1)
	}
}

func get(ctx context.Context, c *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return nil
}

// waitReady polls the first URL until it answers, so the load starts only once the target listens.
func waitReady(c *http.Client, u string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := get(context.Background(), c, u)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("target not ready after %s: %w", limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" {
		return fmt.Errorf("%s: only http:// URLs are supported", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: refusing a non-loopback host %q", raw, host)
	}
	return nil
}
