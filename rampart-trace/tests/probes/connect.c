// Connections: a blocking TCP connect to 127.0.0.1:argv[2], a non-blocking
// one to the same port, one to a closed port (argv[3]), a UDP connect, and a
// unix socket connect to argv[4] (absolute) and to its basename after chdir
// to its directory. Writes "name errno" lines to argv[1] (0 = success).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static FILE *out;

static void inet(const char *name, int type, int nonblock, int port) {
    int s = socket(AF_INET, type | (nonblock ? SOCK_NONBLOCK : 0), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    fprintf(out, "%s %d\n", name, r == 0 ? 0 : errno);
    close(s);
}

static void unix_sock(const char *name, const char *path) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    fprintf(out, "%s %d\n", name, r == 0 ? 0 : errno);
    close(s);
}

int main(int argc, char **argv) {
    out = fopen(argv[1], "w");
    int port = atoi(argv[2]), closed = atoi(argv[3]);
    inet("tcp", SOCK_STREAM, 0, port);
    inet("nonblocking", SOCK_STREAM, 1, port);
    inet("refused", SOCK_STREAM, 0, closed);
    inet("udp", SOCK_DGRAM, 0, 5353);
    unix_sock("unix", argv[4]);
    char *copy = strdup(argv[4]);
    if (chdir(dirname(copy)) != 0) return 2;
    copy = strdup(argv[4]);
    unix_sock("unix-relative", basename(copy));
    fclose(out);
    return 0;
}
