/* Signals with a handler, an ignored one, SIGCHLD from a child, then death by SIGSEGV. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv)
{
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, SIG_IGN);
	raise(SIGUSR1);
	kill(getpid(), SIGUSR2);
	pid_t child = fork();
	if (child == 0)
		_exit(7);
	waitpid(child, NULL, 0);
	if (argc > 1)
		*(volatile int *)0 = 1; /* SIGSEGV */
	(void)argv;
	return 0;
}
