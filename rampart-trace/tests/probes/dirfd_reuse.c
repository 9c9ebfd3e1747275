// A directory descriptor number reused for another directory: openat through
// fd N on argv[1], close N, open argv[2] (which gets N again), openat again;
// then dup2 argv[1]'s descriptor over N and openat a third time.
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int a = open(argv[1], O_RDONLY | O_DIRECTORY);
    close(openat(a, "f", O_RDONLY));
    close(a);
    int b = open(argv[2], O_RDONLY | O_DIRECTORY);
    if (b != a) return 2;
    close(openat(b, "f", O_RDONLY));
    int a2 = open(argv[1], O_RDONLY | O_DIRECTORY);
    dup2(a2, b);
    close(openat(b, "f", O_RDONLY));
    return 0;
}
