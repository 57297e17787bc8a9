// Command probe attempts dangerous syscalls one at a time, with arguments that make each call
// fail inside the kernel or undo itself, and prints one JSON line per syscall:
//
//	{"syscall": "mount", "errno": "EPERM", "verdict": "denied"}
//
// "errno" is the name of the error the call returned ("OK" on success). The verdict is
// "denied" for EPERM or ENOSYS, the two answers a seccomp profile gives (SCMP_ACT_ERRNO with
// EPERM by default, ENOSYS for fallback syscalls), and "allowed" for anything else: an error
// such as EINVAL, EFAULT, ENOENT, EBADF or ENOKEY comes from the syscall's own code, so the
// call got past seccomp. The ambiguity: the kernel itself answers EPERM when a capability is
// missing, and ENOSYS when it was built without the syscall. Run it as root without seccomp
// first; that baseline tells which calls can reach the kernel on this host, and a "denied"
// under a profile means something only for calls the baseline shows as "allowed".
//
// With -dry the probe does everything except the syscalls themselves (the same temporary
// directory, the same locked thread, the same output), so tracing "probe -dry" gives the
// syscalls of the Go runtime and of the harness alone.
//
// With -args the probe runs a different set: syscalls a profile allows by name, each called
// with an argument value a Go service makes and with one it does not (see args.go); add
// -observed-only to run only the former, the run to trace.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

type result struct {
	Syscall string `json:"syscall"`
	Errno   string `json:"errno"`
	Verdict string `json:"verdict"`
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.ESRCH: "ESRCH",
	syscall.EBADF: "EBADF", syscall.EFAULT: "EFAULT", syscall.EINVAL: "EINVAL",
	syscall.ENOSYS: "ENOSYS", syscall.ENODEV: "ENODEV", syscall.ENOEXEC: "ENOEXEC",
	syscall.EACCES: "EACCES", syscall.EBUSY: "EBUSY", syscall.ENOTDIR: "ENOTDIR",
	syscall.EOPNOTSUPP: "EOPNOTSUPP", syscall.ENOMEM: "ENOMEM", syscall.EEXIST: "EEXIST",
	126: "ENOKEY",
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "OK"
	}
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

func verdict(e syscall.Errno) string {
	if e == syscall.EPERM || e == syscall.ENOSYS {
		return "denied"
	}
	return "allowed"
}

func ptr(s string) uintptr {
	p, err := syscall.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(p))
}

func call(name string, a ...uintptr) syscall.Errno {
	var args [6]uintptr
	copy(args[:], a)
	_, _, e := syscall.Syscall6(sysno[name], args[0], args[1], args[2], args[3], args[4], args[5])
	return e
}

const (
	cloneNewUTS     = 0x04000000
	ptracePeekData  = 2
	clockMonotonic  = 1
	syslogSizeBuf   = 10
	oNonblock       = 0x800
	keyctlRevoke    = 3
	missingKeyID    = 0x7ffffff0
	kexecBadFlags   = 0x80       // not a KEXEC_* flag: EINVAL after the capability check
	uffdBadFlags    = 0x7ff00000 // not a userfaultfd flag: EINVAL after the permission check
	missingPath     = "/nonexistent-seccompgen-probe"
	missingPathB    = "/nonexistent-seccompgen-probe-b"
	missingModule   = "seccompgen_no_such_module"
	fsopenBadFlags  = 0xfffffffe // only FSOPEN_CLOEXEC is defined
	processVMBadFlg = 1          // flags must be 0
)

func main() {
	dry := flag.Bool("dry", false, "do everything but the dangerous syscalls")
	args := flag.Bool("args", false, "probe argument values of allowed syscalls instead (args.go)")
	observedOnly := flag.Bool("observed-only", false, "with -args: only the observed variants")
	flag.Parse()
	if *observedOnly && !*args {
		fmt.Fprintln(os.Stderr, "probe: -observed-only needs -args")
		os.Exit(2)
	}
	if *args {
		runArgs(*dry, *observedOnly)
		return
	}

	dir, err := os.MkdirTemp("", "seccompgen-probe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
	defer os.Remove(dir)

	var ts [2]int64 // struct timespec {0, 0}
	probes := []struct {
		name string
		run  func() syscall.Errno
	}{
		// A tmpfs on our own empty temporary directory, unmounted at once below.
		{"mount", func() syscall.Errno {
			return call("mount", ptr("seccompgen-probe"), ptr(dir), ptr("tmpfs"), 0, ptr("size=4k"))
		}},
		// Unmounts the tmpfs above, or fails with EINVAL when nothing is mounted there.
		{"umount2", func() syscall.Errno { return call("umount2", ptr(dir), 0) }},
		{"unshare", unshareUTS},
		{"setns", func() syscall.Errno { return call("setns", ^uintptr(0), 0) }},
		{"bpf", func() syscall.Errno { return call("bpf", 0xffff, 0, 0) }},
		{"keyctl", func() syscall.Errno { return call("keyctl", keyctlRevoke, missingKeyID) }},
		{"add_key", func() syscall.Errno {
			return call("add_key", ptr("user"), ptr("seccompgen-probe"), 0, 0, missingKeyID)
		}},
		{"kexec_load", func() syscall.Errno { return call("kexec_load", 0, 0, 0, kexecBadFlags) }},
		{"init_module", func() syscall.Errno { return call("init_module", 0, 0, ptr("")) }},
		{"finit_module", func() syscall.Errno { return call("finit_module", ^uintptr(0), ptr(""), 0) }},
		{"delete_module", func() syscall.Errno {
			return call("delete_module", ptr(missingModule), oNonblock)
		}},
		{"perf_event_open", func() syscall.Errno {
			return call("perf_event_open", 0, 0, ^uintptr(0), ^uintptr(0), 0)
		}},
		{"userfaultfd", func() syscall.Errno { return call("userfaultfd", uffdBadFlags) }},
		{"io_uring_setup", func() syscall.Errno { return call("io_uring_setup", 0, 0) }},
		{"chroot", func() syscall.Errno { return call("chroot", ptr(missingPath)) }},
		{"pivot_root", func() syscall.Errno {
			return call("pivot_root", ptr(missingPath), ptr(missingPathB))
		}},
		// 0xffffffff only queries the execution domain.
		{"personality", func() syscall.Errno { return call("personality", 0xffffffff) }},
		// pid 1 is not our tracee: ESRCH once the call reaches ptrace's code.
		{"ptrace", func() syscall.Errno { return call("ptrace", ptracePeekData, 1, 0, 0) }},
		{"open_by_handle_at", func() syscall.Errno {
			return call("open_by_handle_at", ^uintptr(0), 0, 0)
		}},
		// Without the magic numbers reboot fails with EINVAL after the capability check.
		{"reboot", func() syscall.Errno { return call("reboot", 0, 0, 0, 0) }},
		{"swapon", func() syscall.Errno { return call("swapon", ptr(missingPath), 0) }},
		{"fsopen", func() syscall.Errno { return call("fsopen", ptr("tmpfs"), fsopenBadFlags) }},
		// An empty port range is rejected before any permission is granted.
		{"ioperm", func() syscall.Errno { return call("ioperm", 0, 0, 0) }},
		// CLOCK_MONOTONIC cannot be set: EINVAL.
		{"clock_settime", func() syscall.Errno {
			return call("clock_settime", clockMonotonic, uintptr(unsafe.Pointer(&ts[0])))
		}},
		// Reads only the size of the kernel log buffer.
		{"syslog", func() syscall.Errno { return call("syslog", syslogSizeBuf, 0, 0) }},
		{"process_vm_readv", func() syscall.Errno {
			return call("process_vm_readv", uintptr(os.Getpid()), 0, 0, 0, 0, processVMBadFlg)
		}},
	}

	out := json.NewEncoder(os.Stdout)
	for _, p := range probes {
		if _, ok := sysno[p.name]; !ok {
			continue // not a syscall on this architecture
		}
		r := result{Syscall: p.name, Errno: "", Verdict: "skipped"}
		if *dry {
			if p.name == "unshare" {
				lockedThread(func() {})
			}
		} else {
			e := p.run()
			r.Errno, r.Verdict = errnoName(e), verdict(e)
		}
		if err := out.Encode(r); err != nil {
			os.Exit(1)
		}
	}
}

// unshareUTS moves one locked OS thread into a new UTS namespace. The goroutine exits without
// unlocking, so the Go runtime ends that thread instead of reusing it (runtime.LockOSThread).
func unshareUTS() syscall.Errno {
	var e syscall.Errno
	lockedThread(func() { e = call("unshare", cloneNewUTS) })
	return e
}

func lockedThread(f func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		f()
		close(done)
	}()
	<-done
}
