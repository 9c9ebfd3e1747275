/* interrupted DIR N: N rounds of mkdir/rmdir of DIR/d and an exclusive
 * create and unlink of DIR/f, while a timer interrupts the process every
 * 20 µs (SIGALRM, handled, SA_RESTART). Each call must succeed once: a call
 * made twice (by an interceptor whose caller was interrupted after it made
 * the call) shows as EEXIST or ENOENT. Prints "failures N" and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;
static void tick(int sig) { (void)sig; ticks++; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: interrupted DIR N\n"); return 2; }
    char d[4096], f[4096];
    snprintf(d, sizeof d, "%s/d", argv[1]);
    snprintf(f, sizeof f, "%s/f", argv[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tick;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 20}, {0, 20}};
    setitimer(ITIMER_REAL, &every, NULL);
    int failures = 0, n = atoi(argv[2]);
    for (int i = 0; i < n; i++) {
        if (mkdir(d, 0700) != 0) failures++;
        if (rmdir(d) != 0) failures++;
        int fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) failures++; else close(fd);
        if (unlink(f) != 0) failures++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("failures %d ticks %d\n", failures, (int)ticks);
    return 0;
}
