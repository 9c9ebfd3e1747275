/* open_kinds DIR : opens of every kind a program makes, each printed as
 * "NAME RESULT" where RESULT says what the program saw (the descriptor's
 * properties or the errno), so that a run under rampart can be compared
 * line for line with a bare one. Made with inline system calls, so that
 * no hook of libc sees them. DIR is an empty directory of the caller's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raw.h"

static long op(const char *path, int flags, int mode) {
    return raw(SYS_openat, AT_FDCWD, (long)path, flags, mode);
}

static long op_at(int dirfd, const char *path, int flags) {
    return raw(SYS_openat, dirfd, (long)path, flags, 0);
}

/* What a program can tell of an open: failed with which errno, or the
 * descriptor's number relative to the lowest free one, its close-on-exec
 * flag, its status flags and the file's type and size. */
static void show(const char *name, long fd) {
    if (fd < 0) {
        printf("%s errno=%ld\n", name, -fd);
        return;
    }
    struct stat st;
    fstat((int)fd, &st);
    int lowest = dup(0);
    close(lowest);
    printf("%s fd=%s cloexec=%d fl=%o type=%o size=%lld\n", name,
           fd < lowest ? "lowest" : "other", fcntl((int)fd, F_GETFD) & FD_CLOEXEC,
           fcntl((int)fd, F_GETFL) & ~O_LARGEFILE, st.st_mode & S_IFMT, (long long)st.st_size);
}

static void put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        write(fd, text, strlen(text));
        close(fd);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: open_kinds DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char p[4096], q[4096];
    const char *d = argv[1];
    if (chdir(d) != 0) {
        perror("chdir");
        return 1;
    }
    put("data.txt", "hello\n");
    umask(027);

    long fd = op("data.txt", O_RDONLY, 0);
    show("relative", fd);
    char buf[16] = {0};
    if (fd >= 0) {
        printf("relative-read %s", read((int)fd, buf, sizeof buf - 1) > 0 ? buf : "nothing\n");
        close((int)fd);
    }
    snprintf(p, sizeof p, "%s/data.txt", d);
    fd = op(p, O_RDONLY | O_CLOEXEC, 0);
    show("absolute-cloexec", fd);
    close((int)fd);

    fd = op("made.txt", O_WRONLY | O_CREAT, 0666);
    show("create", fd);
    close((int)fd);
    struct stat st;
    stat("made.txt", &st);
    printf("create-mode %o\n", st.st_mode & 07777);
    show("create-excl-exists", op("made.txt", O_WRONLY | O_CREAT | O_EXCL, 0600));
    fd = op("data.txt", O_WRONLY | O_APPEND, 0);
    show("append", fd);
    close((int)fd);
    fd = op("data.txt", O_RDWR | O_TRUNC, 0);
    show("truncate", fd);
    close((int)fd);
    put("data.txt", "again\n");
    fd = op("data.txt", O_RDONLY | O_TRUNC, 0);
    show("truncate-read-only", fd);
    close((int)fd);

    show("absent", op("absent.txt", O_RDONLY, 0));
    show("absent-dir", op("no/such/file", O_RDONLY, 0));
    show("not-a-directory", op("made.txt/x", O_RDONLY, 0));
    show("directory-flag-on-file", op("made.txt", O_RDONLY | O_DIRECTORY, 0));
    show("write-a-directory", op(".", O_WRONLY, 0));
    fd = op(".", O_RDONLY | O_DIRECTORY, 0);
    show("directory", fd);
    if (fd >= 0) {
        long at = op_at((int)fd, "made.txt", O_RDONLY);
        show("relative-to-dirfd", at);
        close((int)at);
        close((int)fd);
    }
    show("bad-dirfd", op_at(999, "made.txt", O_RDONLY));
    symlink("made.txt", "link");
    show("nofollow-link", op("link", O_RDONLY | O_NOFOLLOW, 0));
    fd = op("link", O_RDONLY, 0);
    show("follow-link", fd);
    close((int)fd);
    fd = op("link", O_PATH | O_NOFOLLOW, 0);
    show("path-of-link", fd);
    close((int)fd);
    symlink("dangling-target.txt", "dangling");
    fd = op("dangling", O_WRONLY | O_CREAT, 0600);
    show("create-through-dangling", fd);
    close((int)fd);
    printf("dangling-target %s\n", access("dangling-target.txt", F_OK) == 0 ? "made" : "absent");

    /* This process's own names. */
    fd = op("/proc/self/cwd/made.txt", O_RDONLY, 0);
    show("proc-self-cwd", fd);
    close((int)fd);
    int held = open("data.txt", O_RDONLY);
    snprintf(q, sizeof q, "/dev/fd/%d", held);
    fd = op(q, O_RDONLY, 0);
    show("dev-fd", fd);
    close((int)fd);
    close(held);
    fd = op("/proc/self/status", O_RDONLY, 0);
    if (fd >= 0) {
        char s[256] = {0};
        read((int)fd, s, sizeof s - 1);
        char *pid = strstr(s, "\nPid:");
        int n = pid ? atoi(pid + 5) : -1;
        printf("proc-self-status own=%d\n", n == getpid());
        close((int)fd);
    }
    /* Appending: stdout may be a file the caller reads afterwards. */
    fd = op("/dev/stdout", O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) {
        write((int)fd, "via-dev-stdout\n", 15);
        close((int)fd);
    }

    /* A FIFO: the open waits for the other end. */
    mkfifo("fifo", 0600);
    pid_t child = fork();
    if (child == 0) {
        usleep(200000);
        int w = open("fifo", O_WRONLY);
        write(w, "through-fifo\n", 13);
        _exit(0);
    }
    fd = op("fifo", O_RDONLY, 0);
    show("fifo", fd);
    if (fd >= 0) {
        memset(buf, 0, sizeof buf);
        printf("fifo-read %s", read((int)fd, buf, sizeof buf - 1) > 0 ? buf : "nothing\n");
        close((int)fd);
    }
    waitpid(child, NULL, 0);
    fd = op("fifo", O_WRONLY | O_NONBLOCK, 0);
    show("fifo-no-reader", fd);
    return 0;
}
