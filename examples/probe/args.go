// The -args mode: syscalls that a least-privilege profile allows by name, called once with an
// argument value a Go service makes ("observed") and once with a value it never makes
// ("unobserved"). A profile with argument rules, built from a trace of
// "probe -args -observed-only", must let the first through and refuse the second. Each line is
//
//	{"probe": "socket-packet", "syscall": "socket", "variant": "unobserved",
//	 "arg": "domain AF_PACKET", "index": 0, "value": 17,
//	 "call": "socket(AF_PACKET, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)", "errno": "OK", "verdict": "allowed"}
//
// "index" and "value" name the one argument that tells the pair apart, as the raw number a
// tracer records (seccomp(2) filters compare raw 64-bit values). Every other argument of an
// unobserved call is one its observed partner also passes (pointers aside), so a refusal can
// only come from the rule on that argument. For socket that is the family (index 0) for
// AF_PACKET and AF_NETLINK, and the type (index 1) for socket-unix-seqpacket, whose partner is
// socket-unix-stream: an observed family with a type no observed call used. "errno" and "verdict" mean what they mean in the
// default mode: EPERM or ENOSYS is "denied", anything else reached the syscall's own code. Run
// "probe -args" as root without seccomp first: every unobserved call must be "allowed" there
// (this is checked in tests/integration/test_probe_args.py), so that "denied" under a profile
// means the profile refused it and not the kernel.
//
// Every call is harmless and undoes itself:
//   - socket: each descriptor that opens is closed at once. AF_PACKET with protocol 0 receives
//     no packets; AF_NETLINK/NETLINK_ROUTE only opens a socket; an unbound AF_UNIX
//     SOCK_SEQPACKET socket needs no capability and reaches nothing.
//   - clone: a fork-like clone (flags SIGCHLD only: no CLONE_VM, no stack, no TID pointers).
//     The child runs only the nosplit return path of syscall.RawSyscall6 and exit_group(0): no
//     Go code that could grow the stack, allocate or take a lock (the same discipline as
//     syscall.forkAndExecInChild1), and it never receives signals, because pending signals are
//     not inherited and no one else knows its pid. The parent reaps it with wait4. The
//     unobserved variants add one flag, CLONE_NEWUSER or CLONE_NEWNET: as root this creates a
//     user or network namespace that holds one process for the instant before it exits. The
//     alternative of a flag combination the kernel rejects with EINVAL (CLONE_NEWUSER|CLONE_FS)
//     creates nothing, but it would differ from the observed call in two bits, and no service
//     makes it; here the pair differs in the one flag a namespace rule is about.
//   - personality: PER_LINUX (0) is the persona every Linux process already has, and
//     0xffffffff only queries it. READ_IMPLIES_EXEC is set on a locked OS thread that restores
//     PER_LINUX at once and is then ended by the Go runtime (the goroutine exits locked), since
//     a persona is per thread and would make that thread's later mmap(PROT_READ) executable.
//   - prctl: PR_GET_NAME and PR_GET_SECUREBITS both only read.
//   - mprotect: on a private anonymous page of our own, unmapped afterwards.
//   - ioctl and fcntl: on a pipe of our own, closed afterwards; F_SETPIPE_SZ only resizes it.
//
// With -observed-only only the observed variants run (the run to trace); with -dry nothing
// runs and every line says "skipped".
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

type argResult struct {
	Probe   string `json:"probe"`
	Syscall string `json:"syscall"`
	Variant string `json:"variant"`
	Arg     string `json:"arg"`
	Index   int    `json:"index"`
	Value   uint64 `json:"value"`
	Call    string `json:"call"`
	Errno   string `json:"errno"`
	Verdict string `json:"verdict"`
}

type argProbe struct {
	name     string
	syscall  string
	observed bool
	arg      string // the distinguishing argument in words
	index    int
	value    uint64
	call     string // the whole call in words
	run      func() syscall.Errno
}

const (
	afUnix        = 1
	afInet        = 2
	afNetlink     = 16
	afPacket      = 17
	sockStream    = 1
	sockDgram     = 2
	sockSeqpacket = 5
	sockFlags     = 0x80800 // SOCK_NONBLOCK|SOCK_CLOEXEC, as Go's net package opens sockets
	netlinkRoute  = 0

	sigchld      = 17
	cloneNewNet  = 0x40000000
	cloneNewUser = 0x10000000

	perLinux        = 0
	perQuery        = 0xffffffff
	readImpliesExec = 0x0400000

	prGetName       = 16
	prGetSecurebits = 27

	protNone  = 0
	protRead  = 1
	protWrite = 2
	protExec  = 4

	fionread   = 0x541b
	tiocgwinsz = 0x5413

	fGetfl     = 3
	fSetpipeSz = 1031
	pipeSize   = 1 << 16
)

// argsErrnoNames adds the errors only this mode's calls give; the default mode's names stay as
// they are.
var argsErrnoNames = map[syscall.Errno]string{
	syscall.EAFNOSUPPORT: "EAFNOSUPPORT", syscall.ESOCKTNOSUPPORT: "ESOCKTNOSUPPORT",
	syscall.EPROTONOSUPPORT: "EPROTONOSUPPORT", syscall.ENOTTY: "ENOTTY",
	syscall.EAGAIN: "EAGAIN", syscall.EUSERS: "EUSERS", syscall.ENOSPC: "ENOSPC",
}

func argsErrnoName(e syscall.Errno) string {
	if n, ok := argsErrnoNames[e]; ok {
		return n
	}
	return errnoName(e)
}

func argProbes() []argProbe {
	sock := func(domain, typ uintptr) func() syscall.Errno {
		return func() syscall.Errno {
			fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, domain, typ|sockFlags, 0)
			if e == 0 {
				syscall.Close(int(fd))
			}
			return e
		}
	}
	clone := func(flags uintptr) func() syscall.Errno { return func() syscall.Errno { return forkLike(flags) } }
	pers := func(p uintptr) func() syscall.Errno {
		return func() syscall.Errno { return setPersonality(p) }
	}
	prctl := func(option uintptr) func() syscall.Errno {
		return func() syscall.Errno {
			var name [16]byte
			_, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, option, uintptr(unsafe.Pointer(&name[0])), 0)
			runtime.KeepAlive(&name)
			return e
		}
	}
	mprotect := func(prot uintptr) func() syscall.Errno { return func() syscall.Errno { return protectPage(prot) } }
	ioctl := func(req uintptr) func() syscall.Errno {
		return func() syscall.Errno {
			var buf [8]uint16 // large enough for an int (FIONREAD) and a struct winsize
			return onPipe(func(fd uintptr) syscall.Errno {
				_, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(&buf[0])))
				runtime.KeepAlive(&buf)
				return e
			})
		}
	}
	fcntl := func(cmd, arg uintptr) func() syscall.Errno {
		return func() syscall.Errno {
			return onPipe(func(fd uintptr) syscall.Errno {
				_, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, fd, cmd, arg)
				return e
			})
		}
	}
	return []argProbe{
		// What a Go HTTP service makes (net.Listen/Dial over TCP, the resolver's UDP, a unix
		// socket) against the packet and netlink families, with a type and protocol of the
		// observed calls, and against an observed family with a type never observed.
		{"socket-inet-stream", "socket", true, "domain AF_INET", 0, afInet,
			"socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)", sock(afInet, sockStream)},
		{"socket-inet-dgram", "socket", true, "domain AF_INET", 0, afInet,
			"socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)", sock(afInet, sockDgram)},
		{"socket-unix-stream", "socket", true, "domain AF_UNIX", 0, afUnix,
			"socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)", sock(afUnix, sockStream)},
		{"socket-packet", "socket", false, "domain AF_PACKET", 0, afPacket,
			"socket(AF_PACKET, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)", sock(afPacket, sockDgram)},
		{"socket-netlink", "socket", false, "domain AF_NETLINK", 0, afNetlink,
			"socket(AF_NETLINK, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, NETLINK_ROUTE)", sock(afNetlink, sockDgram)},
		{"socket-unix-seqpacket", "socket", false, "type SOCK_SEQPACKET", 1, sockSeqpacket | sockFlags,
			"socket(AF_UNIX, SOCK_SEQPACKET|SOCK_NONBLOCK|SOCK_CLOEXEC, 0)", sock(afUnix, sockSeqpacket)},

		{"clone-fork", "clone", true, "flags SIGCHLD", 0, sigchld,
			"clone(SIGCHLD, NULL, NULL, NULL, 0); child exit_group(0)", clone(sigchld)},
		{"clone-newuser", "clone", false, "flags CLONE_NEWUSER|SIGCHLD", 0, cloneNewUser | sigchld,
			"clone(CLONE_NEWUSER|SIGCHLD, NULL, NULL, NULL, 0); child exit_group(0)",
			clone(cloneNewUser | sigchld)},
		{"clone-newnet", "clone", false, "flags CLONE_NEWNET|SIGCHLD", 0, cloneNewNet | sigchld,
			"clone(CLONE_NEWNET|SIGCHLD, NULL, NULL, NULL, 0); child exit_group(0)",
			clone(cloneNewNet | sigchld)},

		{"personality-query", "personality", true, "persona 0xffffffff (query)", 0, perQuery,
			"personality(0xffffffff)", pers(perQuery)},
		{"personality-linux", "personality", true, "persona PER_LINUX", 0, perLinux,
			"personality(PER_LINUX)", pers(perLinux)},
		{"personality-read-implies-exec", "personality", false, "persona READ_IMPLIES_EXEC|PER_LINUX",
			0, readImpliesExec, "personality(READ_IMPLIES_EXEC|PER_LINUX); then personality(PER_LINUX)",
			pers(readImpliesExec)},

		// The Go runtime and the example services make no prctl call; PR_GET_NAME is the
		// commonest read-only option (thread names in logs and profilers).
		{"prctl-get-name", "prctl", true, "option PR_GET_NAME", 0, prGetName,
			"prctl(PR_GET_NAME, buf)", prctl(prGetName)},
		{"prctl-get-securebits", "prctl", false, "option PR_GET_SECUREBITS", 0, prGetSecurebits,
			"prctl(PR_GET_SECUREBITS, buf)", prctl(prGetSecurebits)},

		{"mprotect-read-write", "mprotect", true, "prot PROT_READ|PROT_WRITE", 2, protRead | protWrite,
			"mprotect(page, 4096, PROT_READ|PROT_WRITE)", mprotect(protRead | protWrite)},
		{"mprotect-write-exec", "mprotect", false, "prot PROT_WRITE|PROT_EXEC", 2, protWrite | protExec,
			"mprotect(page, 4096, PROT_WRITE|PROT_EXEC)", mprotect(protWrite | protExec)},

		{"ioctl-fionread", "ioctl", true, "request FIONREAD", 1, fionread,
			"ioctl(pipe, FIONREAD, &n)", ioctl(fionread)},
		{"ioctl-tiocgwinsz", "ioctl", false, "request TIOCGWINSZ", 1, tiocgwinsz,
			"ioctl(pipe, TIOCGWINSZ, &ws)", ioctl(tiocgwinsz)},

		{"fcntl-getfl", "fcntl", true, "cmd F_GETFL", 1, fGetfl,
			"fcntl(pipe, F_GETFL, 65536)", fcntl(fGetfl, pipeSize)},
		{"fcntl-setpipe-sz", "fcntl", false, "cmd F_SETPIPE_SZ", 1, fSetpipeSz,
			"fcntl(pipe, F_SETPIPE_SZ, 65536)", fcntl(fSetpipeSz, pipeSize)},
	}
}

func runArgs(dry, observedOnly bool) {
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false) // "&n" in the call column, not "\u0026n"
	for _, p := range argProbes() {
		if observedOnly && !p.observed {
			continue
		}
		variant := "unobserved"
		if p.observed {
			variant = "observed"
		}
		r := argResult{
			Probe: p.name, Syscall: p.syscall, Variant: variant, Arg: p.arg,
			Index: p.index, Value: p.value, Call: p.call, Verdict: "skipped",
		}
		if !dry {
			e := p.run()
			r.Errno, r.Verdict = argsErrnoName(e), verdict(e)
		}
		if err := out.Encode(r); err != nil {
			os.Exit(1)
		}
	}
}

// forkLike makes clone(flags, 0, 0, 0, 0) and reaps the child. With no CLONE_VM and a null
// stack the child runs on a copy of this thread's stack, as after fork(2).
func forkLike(flags uintptr) syscall.Errno {
	pid, e := rawClone(flags)
	if e != 0 {
		return e
	}
	var status syscall.WaitStatus
	for {
		_, err := syscall.Wait4(int(pid), &status, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	return 0
}

// rawClone is nosplit and calls only nosplit functions, so the child, which returns here on a
// copied stack, executes no stack check, allocation or scheduler code before exit_group.
//
//go:nosplit
//go:norace
func rawClone(flags uintptr) (uintptr, syscall.Errno) {
	pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, flags, 0, 0, 0, 0, 0)
	if e == 0 && pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return pid, e
}

// setPersonality sets persona p on a locked thread, puts PER_LINUX back, and lets the Go
// runtime end the thread (see lockedThread). The errno is that of setting p.
func setPersonality(p uintptr) syscall.Errno {
	var e syscall.Errno
	lockedThread(func() {
		_, _, e = syscall.RawSyscall(syscall.SYS_PERSONALITY, p, 0, 0)
		if e == 0 && p != perQuery && p != perLinux {
			syscall.RawSyscall(syscall.SYS_PERSONALITY, perLinux, 0, 0)
		}
	})
	return e
}

func protectPage(prot uintptr) syscall.Errno {
	page, err := syscall.Mmap(-1, 0, 4096, protNone, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe: mmap:", err)
		os.Exit(1)
	}
	defer syscall.Munmap(page)
	_, _, e := syscall.RawSyscall(syscall.SYS_MPROTECT, uintptr(unsafe.Pointer(&page[0])), 4096, prot)
	return e
}

func onPipe(f func(fd uintptr) syscall.Errno) syscall.Errno {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		fmt.Fprintln(os.Stderr, "probe: pipe2:", err)
		os.Exit(1)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	return f(uintptr(p[0]))
}
