// A 64-bit program opening a file through the 32-bit syscall ABI
// (int $0x80, i386 open = 5): writes the raw result (fd, or -errno) to argv[1].
#include <stdio.h>

static const char path[] = "/etc/hostname";

int main(int argc, char **argv) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(5L), "b"(path), "c"(0L) : "memory");
    FILE *out = fopen(argv[1], "w");
    fprintf(out, "%ld\n", r);
    fclose(out);
    return 0;
}
