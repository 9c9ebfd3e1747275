/* secret_open PATH: opens PATH, its name read from memory only the kernel
 * may read (memfd_secret), and prints what the open answered. An
 * interceptor that cannot read the name must not let the open run
 * undecided. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
int main(int c, char **v) {
    int fd = syscall(447 /* memfd_secret */, 0);
    if (fd < 0) { perror("memfd_secret"); return 2; }
    ftruncate(fd, 4096);
    char *p = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 2; }
    strcpy(p, v[1]);
    int r = open(p, O_RDONLY);
    printf("open from secret memory: %s\n", r >= 0 ? "ok" : strerror(errno));
    return 0;
}
