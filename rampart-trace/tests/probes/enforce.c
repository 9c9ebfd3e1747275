// Calls an enforcing sink may refuse; writes "name errno" lines to argv[1]
// (0 = success): create argv[2], read /etc/hostname, read the absent
// /etc/hostname.absent, exec /bin/echo, connect to 127.0.0.1:argv[3],
// io_uring_setup (refused by the filter in enforce mode).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    FILE *out = fopen(argv[1], "w");
    int r = open(argv[2], O_WRONLY | O_CREAT, 0644);
    fprintf(out, "create %d\n", r >= 0 ? 0 : errno);
    r = open("/etc/hostname", O_RDONLY);
    fprintf(out, "read %d\n", r >= 0 ? 0 : errno);
    r = open("/etc/hostname.absent", O_RDONLY);
    fprintf(out, "absent %d\n", r >= 0 ? 0 : errno);
    char *args[] = {"echo", "denied", NULL};
    r = execve("/bin/echo", args, environ);
    fprintf(out, "exec %d\n", errno);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    r = connect(s, (struct sockaddr *)&a, sizeof a);
    fprintf(out, "connect %d\n", r == 0 ? 0 : errno);
    char params[120];
    memset(params, 0, sizeof params);
    r = syscall(SYS_io_uring_setup, 1, params);
    fprintf(out, "io_uring %d\n", r >= 0 ? 0 : errno);
    fclose(out);
    return 0;
}
