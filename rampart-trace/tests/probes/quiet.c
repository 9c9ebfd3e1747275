// Many syscalls the filter must let through without a stop, then one open.
#include <fcntl.h>
#include <unistd.h>

int main(void) {
    int fd = open("/dev/null", O_WRONLY);
    for (int i = 0; i < 20000; i++) {
        getppid();
        write(fd, "x", 1);
    }
    close(fd);
    return 0;
}
