// argburst makes, on one locked OS thread, argv[1] calls of each curated syscall with a
// first value, then one call with a second value: the second value comes after any bounded
// sample of the first calls, so only a tracer that records every distinct value sees it.
// It prints nothing and exits 0; every call's own result is ignored (a refused or failing
// call is still a call the tracer sees at entry).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

const (
	prGetDumpable = 3
	prGetName     = 16
	fionread      = 0x541B
	tiocgwinsz    = 0x5413
	fGetFD        = 1
	fGetFL        = 3
	queryPersona  = 0xffffffff
	perLinux      = 0
)

func socket(family, typ int) {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), uintptr(typ), 0)
	if errno == 0 {
		syscall.Close(int(fd))
	}
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	runtime.LockOSThread()
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	page, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	addr := uintptr(unsafe.Pointer(&page[0]))
	var buf [16]byte
	var word int32
	for i := 0; i < n; i++ {
		socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC)
		syscall.RawSyscall(syscall.SYS_PRCTL, prGetName, uintptr(unsafe.Pointer(&buf[0])), 0)
		syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(p[0]), fionread, uintptr(unsafe.Pointer(&word)))
		syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(p[0]), fGetFD, 0)
		syscall.RawSyscall(syscall.SYS_PERSONALITY, queryPersona, 0, 0)
		syscall.RawSyscall(syscall.SYS_MPROTECT, addr, 4096, syscall.PROT_READ)
	}
	socket(syscall.AF_UNIX, syscall.SOCK_DGRAM)
	syscall.RawSyscall(syscall.SYS_PRCTL, prGetDumpable, 0, 0)
	syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(p[0]), tiocgwinsz, uintptr(unsafe.Pointer(&buf[0])))
	syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(p[0]), fGetFL, 0)
	syscall.RawSyscall(syscall.SYS_PERSONALITY, perLinux, 0, 0)
	syscall.RawSyscall(syscall.SYS_MPROTECT, addr, 4096, syscall.PROT_READ|syscall.PROT_WRITE)
}
