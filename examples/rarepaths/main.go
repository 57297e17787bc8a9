// Command rarepaths forces, one flag at a time, the Go runtime paths that a short trace of a
// service usually misses, so that a tracer sees the system calls each one makes. Each flag runs
// its path once and the program then exits 0; a path that did not happen is an error (exit 1),
// so a trace of a successful run is a trace of the path.
//
//	-preempt   a goroutine spins with no function calls while another waits (async preemption)
//	-scavenge  a large allocation is freed and returned to the OS (debug.FreeOSMemory)
//	-profile   a runtime/pprof CPU profile runs for -profile-for (300 ms)
//	-lockexit  a goroutine locked to its OS thread returns without unlocking (the thread exits)
//	-signal    signal.Notify for SIGUSR1, then the process sends itself SIGUSR1
//	-exec      os/exec runs this program again with -child and waits for it; with
//	           -exec-program PATH it runs "PATH child" instead (an arm64 build emulated by
//	           qemu-user cannot exec itself without binfmt_misc, but can exec a host program)
//	-threads   many goroutines block in system calls at once (the runtime starts OS threads)
//	-netpoll   a goroutine waits on a pipe while main sleeps (the idle scheduler waits in netpoll)
//	-restart   a child sleeping in nanosleep is stopped and continued (restart_syscall resumes it)
//
// Paths run in the order listed when several flags are given.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func init() {
	// Keep main on the initial OS thread: the runtime never exits the main thread (it wedges
	// it instead, runtime/proc.go mexit), so -lockexit must end on another thread.
	runtime.LockOSThread()
}

var sink atomic.Uint64

// preempt needs asynchronous preemption to finish: with one P, the spinning goroutine's loop
// has no function calls (no cooperative preemption points), so the waiting goroutine only gets
// to run, and stop the spinner, once sysmon has preempted it with a signal (runtime/preempt.go).
func preempt() error {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var stop atomic.Bool
	var started atomic.Bool
	done := make(chan uint64)
	go func() {
		var x uint64
		started.Store(true)
		for !stop.Load() {
			x = x*6364136223846793005 + 1442695040888963407
		}
		done <- x
	}()
	for !started.Load() {
		runtime.Gosched()
	}
	// The spinner now owns the only P; this sleep ends only when it is preempted.
	time.Sleep(60 * time.Millisecond)
	stop.Store(true)
	sink.Add(<-done)
	return nil
}

// scavenge returns freed heap memory to the OS at once (runtime/mem_linux.go sysUnusedOS).
func scavenge() error {
	const size = 64 << 20
	buf := make([]byte, size)
	for i := 0; i < size; i += 4096 {
		buf[i] = byte(i)
	}
	sink.Add(uint64(buf[size-4096]))
	buf = nil
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapReleased == 0 {
		return errors.New("no heap memory was released to the OS")
	}
	return nil
}

// profile runs a CPU profile over busy work, so SIGPROF fires (runtime/pprof, runtime/signal_unix.go).
func profile(d time.Duration) error {
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	var x uint64
	for time.Now().Before(deadline) {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink.Add(x)
	pprof.StopCPUProfile()
	return nil
}

// lockexit ends a goroutine that is still locked to its OS thread: the runtime then exits that
// thread (runtime/proc.go goexit0 -> mexit, the exit system call in exitThread).
func lockexit() error {
	tids := make(chan int)
	go func() {
		runtime.LockOSThread()
		tids <- syscall.Gettid()
		// Returning without UnlockOSThread ends the thread.
	}()
	tid := <-tids
	path := fmt.Sprintf("/proc/self/task/%d", tid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("thread %d did not exit", tid)
}

// sendSignal installs a handler through os/signal and delivers a signal to the process.
func sendSignal() error {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	defer signal.Stop(c)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		return err
	}
	select {
	case <-c:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("SIGUSR1 was not delivered")
	}
}

// execChild starts this program again as a child, or program with the argument "child" (which
// must print "child"), and waits for it (os/exec, syscall/exec_linux.go).
func execChild(program string) error {
	cmd := exec.Command(program, "child")
	if program == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cmd = exec.Command(self, "-child")
	}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("child: %w", err)
	}
	if string(out) != "child\n" {
		return fmt.Errorf("child printed %q", out)
	}
	return nil
}

// threads blocks n goroutines in a system call at once; each blocked call holds its OS thread,
// so the runtime starts new threads to run the rest (runtime/proc.go entersyscallblock, newm).
// At least as many goroutines block as there are threads already: earlier paths leave idle
// threads behind, which would otherwise take the blocked calls without any new thread.
func threads(n int) error {
	before := countThreads()
	n = max(n, before)
	var wg sync.WaitGroup
	var fds [][2]int
	for i := 0; i < n; i++ {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			return err
		}
		fds = append(fds, p)
	}
	for _, p := range fds {
		wg.Add(1)
		go func(fd int) {
			defer wg.Done()
			var b [1]byte
			// A raw read on a blocking pipe: not the netpoller, so the thread blocks in the kernel.
			syscall.Read(fd, b[:])
		}(p[0])
	}
	// Each blocked read holds a thread of its own, besides the main thread, which is locked.
	during := countThreads()
	for deadline := time.Now().Add(5 * time.Second); during < n+1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		during = countThreads()
	}
	for _, p := range fds {
		syscall.Write(p[1], []byte{1})
	}
	wg.Wait()
	for _, p := range fds {
		syscall.Close(p[0])
		syscall.Close(p[1])
	}
	if during < n+1 || during <= before {
		return fmt.Errorf("%d threads before, %d with %d blocked goroutines", before, during, n)
	}
	return nil
}

func countThreads() int {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	return len(entries)
}

// netpoll parks a goroutine in the network poller (a read from an empty pipe, whose read end
// os.Pipe registers with epoll) while main sleeps: with no goroutine runnable, the idle
// scheduler blocks in netpoll with a timeout until the sleep's timer (runtime/proc.go
// findRunnable, runtime/netpoll_epoll.go netpoll); then main writes and the reader wakes.
func netpoll() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	defer w.Close()
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, 4)
		_, err := io.ReadFull(r, buf)
		if err == nil && string(buf) != "ping" {
			err = fmt.Errorf("read %q", buf)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := w.Write([]byte("ping")); err != nil {
		return err
	}
	return <-got
}

// restart stops a child of this program (SIGSTOP) while it sleeps in nanosleep(2), then
// continues it (SIGCONT). The stop interrupts the sleep with -ERESTART_RESTARTBLOCK; SIGCONT has
// no handler in a Go program (_SigDefault in runtime/sigtab_linux_generic.go, so initsig
// installs none), so no handler runs and the kernel resumes the sleep through
// restart_syscall(2) (kernel/signal.c get_signal, arch_do_signal_or_restart). The sleeper is a
// child because a container's process 1 is not stopped by a SIGSTOP it sends itself
// (pid_namespaces(7)). The child must then finish its sleep: a restart that seccomp refuses
// ends it with EPERM.
func restart() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-sleep")
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	pid := child.Process.Pid
	exited := make(chan error, 1)
	var printed []byte
	go func() {
		printed, _ = io.ReadAll(out)
		exited <- child.Wait()
	}()
	abandon := func(err error) error {
		child.Process.Kill()
		<-exited
		return err
	}
	// The stop must find the child inside nanosleep: /proc/PID/syscall starts with the number
	// of the call its main thread (where main runs, see init) is blocked in, and the state in
	// /proc/PID/stat turns to T (t under a tracer) once the stop took it out of that call
	// (proc(5)).
	inSleep := strconv.Itoa(syscall.SYS_NANOSLEEP) + " "
	if err := await(pid, "syscall", func(s string) bool { return strings.HasPrefix(s, inSleep) }); err != nil {
		return abandon(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return abandon(err)
	}
	stopped := func(s string) bool {
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		return len(f) > 0 && (f[0] == "T" || f[0] == "t")
	}
	if err := await(pid, "stat", stopped); err != nil {
		return abandon(err)
	}
	// SIGCONT until the child exits: under a tracer the stop can take effect after the first
	// SIGCONT (the tracer delivers SIGSTOP late), and a later SIGCONT still ends it.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		syscall.Kill(pid, syscall.SIGCONT)
		select {
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("sleeper: %w", err)
			}
			if string(printed) != "slept\n" {
				return fmt.Errorf("sleeper printed %q", printed)
			}
			return nil
		case <-tick.C:
		}
	}
}

// await polls /proc/PID/FILE every millisecond until ok holds for its text (5 s at most).
func await(pid int, file string, ok func(string) bool) error {
	path := fmt.Sprintf("/proc/%d/%s", pid, file)
	var last []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if ok(string(b)) {
			return nil
		}
		last = b
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s stayed %q", path, last)
}

// sleep is the -restart child: one nanosleep(2) on the main thread, which must end without an
// error (EINTR: no restart; EPERM: the restart was refused).
func sleep() error {
	ts := syscall.NsecToTimespec(int64(300 * time.Millisecond))
	if err := syscall.Nanosleep(&ts, nil); err != nil {
		return fmt.Errorf("nanosleep: %w", err)
	}
	fmt.Println("slept")
	return nil
}

func main() {
	child := flag.Bool("child", false, "print \"child\" and exit (the -exec child)")
	doPreempt := flag.Bool("preempt", false, "force asynchronous preemption")
	doScavenge := flag.Bool("scavenge", false, "free a large allocation and return it to the OS")
	doProfile := flag.Bool("profile", false, "run a CPU profile")
	profileFor := flag.Duration("profile-for", 300*time.Millisecond, "length of the -profile CPU profile")
	doLockexit := flag.Bool("lockexit", false, "exit an OS thread through a locked goroutine")
	doSignal := flag.Bool("signal", false, "signal.Notify and a self-sent SIGUSR1")
	doExec := flag.Bool("exec", false, "run a child process with os/exec")
	execProgram := flag.String("exec-program", "", "with -exec: run `PATH` child instead of this program")
	doThreads := flag.Int("threads", 0, "block at least this many goroutines in system calls at once")
	doNetpoll := flag.Bool("netpoll", false, "wait on a pipe in the network poller while idle")
	doRestart := flag.Bool("restart", false, "stop and continue a child sleeping in nanosleep")
	sleeper := flag.Bool("sleep", false, "sleep 300 ms in one nanosleep and exit (the -restart child)")
	flag.Parse()

	if *child {
		fmt.Println("child")
		return
	}
	if *sleeper {
		if err := sleep(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	steps := []struct {
		on   bool
		name string
		run  func() error
	}{
		{*doPreempt, "preempt", preempt},
		{*doScavenge, "scavenge", scavenge},
		{*doProfile, "profile", func() error { return profile(*profileFor) }},
		{*doLockexit, "lockexit", lockexit},
		{*doSignal, "signal", sendSignal},
		{*doExec, "exec", func() error { return execChild(*execProgram) }},
		{*doThreads > 0, "threads", func() error { return threads(*doThreads) }},
		{*doNetpoll, "netpoll", netpoll},
		{*doRestart, "restart", restart},
	}
	for _, s := range steps {
		if !s.on {
			continue
		}
		if err := s.run(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
			os.Exit(1)
		}
		fmt.Printf("%s: ok\n", s.name)
	}
}
