/* A non-leader thread calls execve(2) while the leader blocks in pause(2): the kernel gives the
 * execing thread the leader's pid (execve(2), "All threads other than the calling thread are
 * destroyed"), which strace reports as "superseded by execve" and "<pid changed to N ...>". */
#include <pthread.h>
#include <unistd.h>

static void *run(void *arg)
{
	char *const argv[] = {"/bin/true", NULL};
	(void)arg;
	usleep(20000);
	execv(argv[0], argv);
	return NULL;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, run, NULL);
	for (;;)
		pause();
}
