/* A tight system-call loop for bench_record.py: N getppid() calls (no payload, the cheapest syscall). */
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000000;
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}
