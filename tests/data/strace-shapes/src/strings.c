/* Strings strace must escape (quotes, backslashes, control bytes, bytes >= 0x80) and a long one. */
#include <string.h>
#include <unistd.h>

int main(void)
{
	static const char odd[] = "quote\" backslash\\ tab\t nl\n cr\r nul\0 high\xff\x80 end";
	char longbuf[300];
	memset(longbuf, 'x', sizeof longbuf);
	longbuf[sizeof longbuf - 1] = '\n';
	(void)write(1, odd, sizeof odd - 1);
	(void)write(1, longbuf, sizeof longbuf);
	(void)write(1, "", 0);
	return 0;
}
