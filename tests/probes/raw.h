/* raw(): a system call made with the `syscall` (or `svc`) instruction
 * itself, past any hook in libc, as a hostile program would. */
#ifndef PROBES_RAW_H
#define PROBES_RAW_H

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

#endif
