/* Built with gcc -m32: a 32-bit process, so strace -f reports "runs in 32 bit mode". */
#include <fcntl.h>
#include <unistd.h>

int main(void)
{
	int fd = open("/etc/hostname", O_RDONLY);
	char buf[64];
	if (fd >= 0) {
		(void)read(fd, buf, sizeof buf);
		close(fd);
	}
	return getppid() > 0 ? 0 : 1;
}
