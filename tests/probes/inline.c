/* inline OP PATH... : system calls made with the `syscall` instruction
 * itself, as a hostile program would to get around hooks in libc. One
 * line per operation: "OP PATH: leaked" (read: the file's first bytes were
 * read), "OP PATH: ok" (write: written) or "OP PATH: refused ERRNO".
 *
 *   read PATH     openat(PATH, O_RDONLY) and read
 *   write PATH    openat(PATH, O_WRONLY|O_CREAT|O_TRUNC) and write "pwned"
 *   unlink PATH   unlinkat(PATH)
 *   uring -       io_uring_setup(1, params): "uring -: ok" when a ring was
 *                 made
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

static long raw(long n, long a, long b, long c, long d) {
#if defined(__x86_64__)
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
#error "inline probe: x86_64 or aarch64"
#endif
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *op = argv[i], *path = argv[i + 1];
        long r;
        if (!strcmp(op, "read")) {
            r = raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY, 0);
            if (r >= 0) {
                char buf[16];
                long n = raw(SYS_read, r, (long)buf, sizeof buf, 0);
                raw(SYS_close, r, 0, 0, 0);
                r = n > 0 ? 0 : -5;
            }
            if (r >= 0)
                printf("%s %s: leaked\n", op, path);
        } else if (!strcmp(op, "write")) {
            r = raw(SYS_openat, AT_FDCWD, (long)path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (r >= 0) {
                raw(SYS_write, r, (long)"pwned", 5, 0);
                raw(SYS_close, r, 0, 0, 0);
                printf("%s %s: ok\n", op, path);
            }
        } else if (!strcmp(op, "uring")) {
            long params[15] = {0}; /* struct io_uring_params: 120 bytes */
            r = raw(425 /* io_uring_setup */, 1, (long)params, 0, 0);
            if (r >= 0) {
                raw(SYS_close, r, 0, 0, 0);
                printf("%s %s: ok\n", op, path);
            }
        } else if (!strcmp(op, "unlink")) {
            r = raw(SYS_unlinkat, AT_FDCWD, (long)path, 0, 0);
            if (r >= 0)
                printf("%s %s: ok\n", op, path);
        } else {
            fprintf(stderr, "inline: unknown operation %s\n", op);
            return 2;
        }
        if (r < 0)
            printf("%s %s: refused %ld\n", op, path, -r);
    }
    return 0;
}
