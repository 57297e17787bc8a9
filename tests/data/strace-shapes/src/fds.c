/* File descriptors strace -y/-yy decorates: a path with spaces, '"', '>' and '<' in it (given as
 * argv[1]), a TCP connection on 127.0.0.1, a Unix socket pair and a pipe. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[16];
	if (argc < 2)
		return 2;
	int fd = open(argv[1], O_RDONLY);
	(void)read(fd, buf, sizeof buf);
	close(fd);

	int srv = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof addr;
	bind(srv, (struct sockaddr *)&addr, sizeof addr);
	listen(srv, 1);
	getsockname(srv, (struct sockaddr *)&addr, &len);
	int cli = socket(AF_INET, SOCK_STREAM, 0);
	connect(cli, (struct sockaddr *)&addr, sizeof addr);
	int conn = accept(srv, NULL, NULL);
	(void)write(cli, "ping\n", 5);
	(void)read(conn, buf, sizeof buf);

	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	(void)write(sv[0], "x", 1);
	(void)read(sv[1], buf, 1);

	int p[2];
	if (pipe(p) == 0) {
		(void)write(p[1], "y", 1);
		(void)read(p[0], buf, 1);
	}
	return 0;
}
