package main

// Syscall numbers for linux/amd64 (arch/x86/entry/syscalls/syscall_64.tbl), spelled out so the
// newer calls (io_uring_setup, fsopen) need no golang.org/x/sys.
var sysno = map[string]uintptr{
	"mount": 165, "umount2": 166, "unshare": 272, "setns": 308, "bpf": 321,
	"keyctl": 250, "add_key": 248, "kexec_load": 246, "init_module": 175,
	"finit_module": 313, "delete_module": 176, "perf_event_open": 298,
	"userfaultfd": 323, "io_uring_setup": 425, "chroot": 161, "pivot_root": 155,
	"personality": 135, "ptrace": 101, "open_by_handle_at": 304, "reboot": 169,
	"swapon": 167, "fsopen": 430, "ioperm": 173, "clock_settime": 227, "syslog": 103,
	"process_vm_readv": 310,
}
