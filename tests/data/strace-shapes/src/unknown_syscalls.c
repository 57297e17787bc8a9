/* System calls strace has no name for: numbers no kernel assigns on x86_64 (syscall(2)).  Each
 * is made in its own child, since a sandboxing kernel may answer an unknown number with a
 * signal instead of ENOSYS. */
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void in_child(long nr)
{
	pid_t pid = fork();
	if (pid == 0) {
		syscall(nr, 1, 2, 3);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

int main(void)
{
	in_child(335);              /* a hole in the x86_64 table (334 rseq, 424 pidfd_send_signal) */
	in_child(999);              /* beyond the table */
	in_child(0x40000000L + 39); /* __X32_SYSCALL_BIT | getpid: the x32 ABI */
	in_child(-1L);
	return 0;
}
