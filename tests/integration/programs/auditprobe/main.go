// auditprobe makes a few rarely used system calls, once each, so that a seccomp filter that logs
// exactly those calls produces a known set of kernel audit records (type 1326, AUDIT_SECCOMP).
//
// The calls are getppid, getpgid(0), sysinfo and uname: the Go runtime
// makes none of them on its own, so every record for them comes from this program's main.
// Each result is printed; a call denied with an errno is reported and the program goes on.
package main

import (
	"fmt"
	"syscall"
)

func main() {
	fmt.Printf("getppid: %d\n", syscall.Getppid())
	if pgid, err := syscall.Getpgid(0); err != nil {
		fmt.Printf("getpgid: %v\n", err)
	} else {
		fmt.Printf("getpgid: %d\n", pgid)
	}
	var info syscall.Sysinfo_t
	fmt.Printf("sysinfo: %v\n", syscall.Sysinfo(&info))
	var uts syscall.Utsname
	fmt.Printf("uname: %v\n", syscall.Uname(&uts))
}
