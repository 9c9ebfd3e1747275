/* Ways around an enforcing tracer or collector that make no watched call
 * at all, tried as a hostile program under enforcement would.
 *
 *   tree_tricks untraced SECRET  a child made with CLONE_UNTRACED (which a
 *                                tracer is not attached to) traces a child
 *                                of its own, answering the seccomp stops of
 *                                the tree's filter itself, and that child
 *                                reads SECRET: "untraced refused ERRNO" or
 *                                "untraced leaked"/"untraced read refused";
 *                                then a plain read of SECRET: "direct
 *                                leaked" or "direct refused ERRNO"
 *   tree_tricks limits SECRET    sets a file size limit of one byte on its
 *                                parent (rampart, whose collector would die
 *                                at its next write), raises its own core
 *                                file size, reads its own limits and sets
 *                                another of its own: one line each,
 *                                "NAME ok" or "NAME refused ERRNO"; then
 *                                reads SECRET ("direct ...", as above)
 *   tree_tricks core DIR         a child that crashes (abort) in DIR, where
 *                                the kernel would write DIR/core: "core
 *                                written" or "no core"
 *   tree_tricks rawsock          makes an IPv4 and an IPv6 raw socket and a
 *                                packet socket: "NAME ok" or "NAME refused
 *                                ERRNO" each
 *   tree_tricks connrace OK DENIED N [raw|nonblock|swap]
 *                                N blocking connects to 127.0.0.1 while a
 *                                thread flips the port in the address
 *                                between OK and DENIED: "connrace
 *                                reached=K tries=N", K the connects that
 *                                reached DENIED; `raw`: each made by an
 *                                inline system call (past libc's hooks),
 *                                `nonblock`: on non-blocking sockets, by
 *                                an inline system call, each waited for;
 *                                `swap`: `raw`, the thread also putting a
 *                                fresh socket on the descriptor (dup2)
 *                                after each flip to DENIED
 *   tree_tricks connalarm        a blocking inline connect to a listener
 *                                whose backlog is full, interrupted by
 *                                alarm(1) (a handler, no SA_RESTART):
 *                                "connalarm ERRNO" (EINTR, as the kernel
 *                                answers)
 *   tree_tricks chattr PATH...   sets the append-only flag of each PATH
 *                                (ioctl FS_IOC_SETFLAGS on a descriptor
 *                                opened to read; root) and clears it again:
 *                                "chattr ok" or "chattr refused ERRNO" each
 *   tree_tricks attrat PATH...   for each PATH, by number through libc's
 *                                syscall(): setxattrat (a user.* attribute),
 *                                removexattrat (it again), file_setattr
 *                                (append-only, cleared again when it
 *                                worked): "NAME ok" or "NAME refused ERRNO"
 *   tree_tricks bind PATH        binds a Unix socket to PATH with libc's
 *                                bind, then another to PATH.raw with an
 *                                inline system call: "libc ok" or "libc
 *                                refused ERRNO", then "raw ..." alike
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raw.h"

static const char MARK[] = "s3cret";

/* 1 when `path` opened and its first bytes are the secret's. */
static int read_secret(const char *path, int *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        *err = errno;
        return 0;
    }
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 && strstr(buf, MARK) != NULL;
}

static int direct(const char *secret) {
    int err = 0;
    if (read_secret(secret, &err))
        printf("direct leaked\n");
    else
        printf("direct refused %d\n", err);
    fflush(stdout);
    return 0;
}

/* The untraced child: traces its own child through every stop, seccomp
 * stops included, and reports what that child's read got. */
static int tracer(const char *secret) {
    pid_t c = fork();
    if (c == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        int err = 0;
        int leaked = read_secret(secret, &err);
        printf("untraced %s\n", leaked ? "leaked" : "read refused");
        fflush(stdout);
        _exit(0);
    }
    int status;
    if (waitpid(c, &status, 0) < 0 || !WIFSTOPPED(status)) {
        printf("untraced no child to trace\n");
        return 1;
    }
    ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, c, 0, 0);
    while (waitpid(c, &status, 0) == c && !WIFEXITED(status) && !WIFSIGNALED(status)) {
        int sig = WIFSTOPPED(status) && WSTOPSIG(status) != SIGTRAP ? WSTOPSIG(status) : 0;
        ptrace(PTRACE_CONT, c, 0, sig);
    }
    return 0;
}

static int untraced(const char *secret) {
    pid_t p = (pid_t)syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
    if (p < 0) {
        printf("untraced refused %d\n", errno);
    } else if (p == 0) {
        _exit(tracer(secret));
    } else {
        int status;
        waitpid(p, &status, 0);
    }
    fflush(stdout);
    return direct(secret);
}

static void say(const char *name, int r) {
    if (r == 0)
        printf("%s ok\n", name);
    else
        printf("%s refused %d\n", name, errno);
    fflush(stdout);
}

static int limits(const char *secret) {
    struct rlimit one = {1, 1}, old, huge = {RLIM_INFINITY, RLIM_INFINITY};
    say("prlimit-parent", prlimit(getppid(), RLIMIT_FSIZE, &one, NULL));
    say("prlimit-read", prlimit(0, RLIMIT_CORE, NULL, &old));
    say("setrlimit-core", setrlimit(RLIMIT_CORE, &huge));
    say("prlimit-core", prlimit(0, RLIMIT_CORE, &huge, NULL));
    struct rlimit files;
    getrlimit(RLIMIT_NOFILE, &files);
    say("setrlimit-nofile", setrlimit(RLIMIT_NOFILE, &files));
    return direct(secret);
}

static int core(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/core", dir);
    struct stat before;
    int had = stat(path, &before) == 0;
    pid_t c = fork();
    if (c == 0) {
        struct rlimit r;
        getrlimit(RLIMIT_CORE, &r);
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_CORE, &r);
        if (chdir(dir) != 0)
            _exit(2);
        abort();
    }
    int status;
    waitpid(c, &status, 0);
    struct stat after;
    int written = stat(path, &after) == 0 &&
                  (!had || after.st_ino != before.st_ino || after.st_mtime != before.st_mtime ||
                   after.st_size != before.st_size);
    printf("%s\n", written ? "core written" : "no core");
    return 0;
}

static int rawsock(void) {
    int a = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
    say("raw4", a < 0 ? -1 : 0);
    int b = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
    say("raw6", b < 0 ? -1 : 0);
    int c = socket(AF_PACKET, SOCK_DGRAM, 0);
    say("packet", c < 0 ? -1 : 0);
    return 0;
}

static struct sockaddr_in race_addr;
static volatile int race_stop;
static unsigned short race_ok, race_denied;

/* `swap`: the descriptor the main thread connects, which the flipping
 * thread puts a fresh socket on after each flip to the refused port. */
static volatile int race_fd = -1;

static void *flip_port(void *arg) {
    int swap = arg != NULL;
    while (!race_stop) {
        *(volatile unsigned short *)&race_addr.sin_port = htons(race_ok);
        for (volatile int i = 0; i < 200; i++)
            ;
        *(volatile unsigned short *)&race_addr.sin_port = htons(race_denied);
        if (swap && race_fd >= 0) {
            int t = socket(AF_INET, SOCK_STREAM, 0);
            dup2(t, race_fd);
            close(t);
        }
        for (volatile int i = 0; i < 200; i++)
            ;
    }
    return NULL;
}

static void on_alarm(int sig) { (void)sig; }

static int connalarm(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t al = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 0) ||
        getsockname(l, (struct sockaddr *)&a, &al))
        return 1;
    /* Fill the backlog: the next SYN is dropped, its connect waits. */
    for (int i = 0; i < 4; i++) {
        int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(f, (struct sockaddr *)&a, sizeof a);
    }
    usleep(100000);
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    alarm(1);
    long r = raw(SYS_connect, s, (long)&a, sizeof a, 0);
    printf("connalarm %ld\n", r < 0 ? -r : 0);
    return 0;
}

static int connrace(int ok, int denied, int n, const char *how) {
    int swap = how != NULL && strcmp(how, "swap") == 0;
    int raw_call = how != NULL && (strcmp(how, "raw") == 0 || strcmp(how, "nonblock") == 0 || swap);
    int nonblock = how != NULL && strcmp(how, "nonblock") == 0;
    race_ok = (unsigned short)ok;
    race_denied = (unsigned short)denied;
    race_addr.sin_family = AF_INET;
    race_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    race_addr.sin_port = htons(race_ok);
    pthread_t t;
    pthread_create(&t, NULL, flip_port, swap ? (void *)1 : NULL);
    int reached = 0;
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
        race_fd = s;
        int c;
        if (raw_call)
            c = (int)raw(SYS_connect, s, (long)&race_addr, sizeof race_addr, 0) < 0 ? -1 : 0;
        else
            c = connect(s, (struct sockaddr *)&race_addr, sizeof race_addr);
        if (nonblock) {
            /* Wait for it, however it began. */
            fd_set w;
            FD_ZERO(&w);
            FD_SET(s, &w);
            struct timeval tv = {1, 0};
            int err = 0;
            socklen_t el = sizeof err;
            c = select(s + 1, NULL, &w, NULL, &tv) == 1 &&
                        getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0
                    ? 0
                    : -1;
        }
        if (c == 0) {
            struct sockaddr_in peer;
            socklen_t l = sizeof peer;
            if (getpeername(s, (struct sockaddr *)&peer, &l) == 0 &&
                ntohs(peer.sin_port) == race_denied)
                reached++;
        }
        race_fd = -1;
        close(s);
    }
    race_stop = 1;
    pthread_join(t, NULL);
    printf("connrace reached=%d tries=%d\n", reached, n);
    return 0;
}

static int chattr(int n, char **paths) {
    for (int i = 0; i < n; i++) {
        int fd = open(paths[i], O_RDONLY);
        long flags = 0;
        ioctl(fd, FS_IOC_GETFLAGS, &flags);
        long appended = flags | FS_APPEND_FL;
        int r = ioctl(fd, FS_IOC_SETFLAGS, &appended);
        say("chattr", r);
        if (r == 0)
            ioctl(fd, FS_IOC_SETFLAGS, &flags);
        close(fd);
    }
    return 0;
}

/* struct xattr_args and struct file_attr, as Linux 6.13 and 6.17 have
 * them; the calls by number (libc names neither yet). */
struct xattr_args_v0 {
    unsigned long long value;
    unsigned int size, flags;
};
struct file_attr_v0 {
    unsigned long long xflags;
    unsigned int extsize, nextents, projid, cowextsize;
};

static int attrat(int n, char **paths) {
    for (int i = 0; i < n; i++) {
        struct xattr_args_v0 xa = {(unsigned long long)(unsigned long)"v", 1, 0};
        say("setxattrat", (int)syscall(463, AT_FDCWD, paths[i], 0, "user.rampart", &xa, sizeof xa));
        say("removexattrat", (int)syscall(466, AT_FDCWD, paths[i], 0, "user.rampart"));
        struct file_attr_v0 fa = {.xflags = 0x10 /* FS_XFLAG_APPEND */};
        int r = (int)syscall(469, AT_FDCWD, paths[i], &fa, sizeof fa, 0);
        say("file_setattr", r);
        if (r == 0) {
            fa.xflags = 0;
            syscall(469, AT_FDCWD, paths[i], &fa, sizeof fa, 0);
        }
    }
    return 0;
}

static int bind_both(const char *path) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    say("libc", bind(s, (struct sockaddr *)&a, sizeof a));
    snprintf(a.sun_path, sizeof a.sun_path, "%s.raw", path);
    int t = socket(AF_UNIX, SOCK_STREAM, 0);
    long r = raw(SYS_bind, t, (long)&a, sizeof a, 0);
    if (r < 0)
        errno = (int)-r;
    say("raw", r < 0 ? -1 : 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "untraced") == 0)
        return untraced(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "limits") == 0)
        return limits(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "core") == 0)
        return core(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "bind") == 0)
        return bind_both(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "chattr") == 0)
        return chattr(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "attrat") == 0)
        return attrat(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "rawsock") == 0)
        return rawsock();
    if (argc >= 2 && strcmp(argv[1], "connalarm") == 0)
        return connalarm();
    if (argc >= 5 && strcmp(argv[1], "connrace") == 0)
        return connrace(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argc >= 6 ? argv[5] : NULL);
    fprintf(stderr, "usage: tree_tricks untraced SECRET | limits SECRET | core DIR | bind PATH | rawsock"
            " | connrace OK DENIED N [raw|nonblock|swap] | connalarm | chattr PATH... | attrat PATH...\n");
    return 2;
}
