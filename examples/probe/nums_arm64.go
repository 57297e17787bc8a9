package main

// Syscall numbers for linux/arm64 (include/uapi/asm-generic/unistd.h); arm64 has no ioperm.
var sysno = map[string]uintptr{
	"mount": 40, "umount2": 39, "unshare": 97, "setns": 268, "bpf": 280,
	"keyctl": 219, "add_key": 217, "kexec_load": 104, "init_module": 105,
	"finit_module": 273, "delete_module": 106, "perf_event_open": 241,
	"userfaultfd": 282, "io_uring_setup": 425, "chroot": 51, "pivot_root": 41,
	"personality": 92, "ptrace": 117, "open_by_handle_at": 265, "reboot": 142,
	"swapon": 224, "fsopen": 430, "clock_settime": 112, "syslog": 116,
	"process_vm_readv": 270,
}
