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
 *   exec PATH     execve(PATH, {"forbidden-tool", "--go"}) made inline: no
 *                 line when it runs (the program is replaced)
 *   byhandle PATH name_to_handle_at(PATH) then open_by_handle_at of it,
 *                 read (needs CAP_DAC_READ_SEARCH): "leaked" when read
 *   execrace PATH 300 times, a child execs /bin/true with argv {"true",
 *                 "ran"} made inline, while a second thread writes PATH and
 *                 argv[0] "nc" over them a moment after the call started
 *                 (a different moment each time); PATH is a program that
 *                 prints its arguments (a copy of echo): each time it ran
 *                 prints "ran". Last line: "execrace PATH: tries=300"
 *   opentree DIR  a detached copy of DIR's mount (open_tree and
 *                 open_tree_attr with OPEN_TREE_CLONE), then reads
 *                 "secret.txt" in it: "opentree DIR: leaked" (per call
 *                 that gave a tree whose file was read) or "refused ERRNO"
 *   procself -    opens this process's /proc/self/status and /mem spelled
 *                 in ways that are not "/proc/self/..." ("/proc//self",
 *                 "/./proc/self", "self/..." from /proc) and says whose
 *                 they are: "procself NAME: own", "procself NAME: other
 *                 PID" (another process's: an escape when rampart made
 *                 the open) or "procself NAME: refused ERRNO"
 *   spawnopen PATH posix_spawn of /bin/cat with PATH opened as its stdin by
 *                 a file action (libc opens it in the child, past any hook
 *                 of open): "ok" once cat ran, which prints the file
 *   listener PATH a seccomp filter of its own (no_new_privs) that sends
 *                 openat to a listener a thread of its own answers
 *                 "continue", then openat(PATH) and read: "leaked" when the
 *                 file was read (the filter stays: make it the last op)
 *   mount32 DIR   with 32-bit system calls (int 0x80): a new user and mount
 *                 namespace, DIR bound onto DIR/../view, then reads
 *                 view/secret.txt: "leaked" when read
 *   chattr32 PATH opens PATH read-only, then a 32-bit ioctl
 *                 (FS_IOC32_SETFLAGS) making it append-only: "ok" when it
 *                 was (and the flag is taken off again)
 *   socket32 -    a 32-bit socket(AF_PACKET, SOCK_RAW): "ok" when made
 *   acct PATH     acct(PATH): process accounting appended to PATH ("ok")
 *   fanotify -    fanotify_init(FAN_CLASS_CONTENT): "ok" when it worked
 *   fchmod PATH   opens PATH read-only, then fchmod(fd, 0777): "ok"
 *   fchown PATH   opens PATH read-only, then fchown(fd, 1234, 1234): "ok"
 *   futimens PATH opens PATH read-only, then utimensat(fd, NULL, {1, 1}):
 *                 "ok" (the times of the descriptor's file)
 *   mknod PATH    mknodat(PATH, S_IFREG | 0644): "ok" when it was made
 *   xattr PATH    setxattr(PATH, "user.rampart", "x"): "ok" when it was set
 *   fxattr PATH   opens PATH read-only, then fsetxattr(fd, "user.rampart")
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raw.h"

extern char **environ;

static char race_path[4096], race_arg0[64];
static const char *race_denied;
static volatile unsigned race_delay;
static volatile int race_go;

/* Waits for the exec to start, lets it get a little way, then writes the
 * denied program's path and name over the ones the exec gave. */
static void *swap_exec(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&race_go, __ATOMIC_ACQUIRE))
        ;
    for (volatile unsigned s = 0; s < race_delay; s++)
        ;
    memcpy(race_path, race_denied, strlen(race_denied) + 1);
    memcpy(race_arg0, "nc", 3);
    return NULL;
}

static void exec_race(const char *denied) {
    race_denied = denied;
    for (int i = 1; i <= 300; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            strcpy(race_path, "/bin/true");
            strcpy(race_arg0, "true");
            race_delay = (unsigned)(i * 7919) % 200000;
            pthread_t t;
            pthread_create(&t, NULL, swap_exec, NULL);
            char *args[] = {race_arg0, "ran", NULL};
            __atomic_store_n(&race_go, 1, __ATOMIC_RELEASE);
            raw(SYS_execve, (long)race_path, (long)args, (long)environ, 0);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
    }
    printf("execrace %s: tries=300\n", denied);
}

/* Whose /proc entry descriptor fd is: its link names /proc/PID/... */
static void whose(const char *name, long fd) {
    if (fd < 0) {
        printf("procself %s: refused %ld\n", name, -fd);
        return;
    }
    char p[64], link[256] = {0};
    snprintf(p, sizeof p, "/proc/self/fd/%ld", fd);
    readlink(p, link, sizeof link - 1);
    int pid = atoi(link + strlen("/proc/"));
    if (pid == getpid())
        printf("procself %s: own\n", name);
    else
        printf("procself %s: other %d\n", name, pid);
    close((int)fd);
}

static void proc_self(void) {
    const char *names[] = {"/proc//self/status", "/./proc/self/status", "/proc//self/mem"};
    for (int i = 0; i < 3; i++) {
        int flags = strstr(names[i], "mem") ? O_RDWR : O_RDONLY;
        whose(names[i], raw(SYS_openat, AT_FDCWD, (long)names[i], flags, 0));
    }
    long proc = raw(SYS_openat, AT_FDCWD, (long)"/proc", O_RDONLY | O_DIRECTORY, 0);
    whose("self/status from /proc", raw(SYS_openat, proc, (long)"self/status", O_RDONLY, 0));
    close((int)proc);
}

/* raw() with a fifth argument (the extended-attribute calls' flags). */
static long raw5(long n, long a, long b, long c, long d, long e) {
#if defined(__x86_64__)
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return r;
#else
    (void)e;
    return raw(n, a, b, c, d);
#endif
}

static int own_listener_fd = -1;

/* Answers every notification of the program's own filter: "continue". */
static void *answer_continue(void *arg) {
    (void)arg;
    for (;;) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req);
        if (ioctl(own_listener_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            return NULL;
        }
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(own_listener_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}

/* read PATH's first bytes with openat: 0 when read, else -errno. */
static long read_first(long dirfd, const char *path) {
    long fd = raw(SYS_openat, dirfd, (long)path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    char buf[16];
    long n = raw(SYS_read, fd, (long)buf, sizeof buf, 0);
    raw(SYS_close, fd, 0, 0, 0);
    return n > 0 ? 0 : -5;
}

static long own_listener(const char *path) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    long l = raw(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                 (long)&prog, 0);
    if (l < 0)
        return l;
    own_listener_fd = (int)l;
    pthread_t t;
    pthread_create(&t, NULL, answer_continue, NULL);
    return read_first(AT_FDCWD, path);
}

#if defined(__x86_64__)
/* A 32-bit system call (int 0x80): its pointers must lie below 4 GiB. */
static long sys32(long n, long a, long b, long c, long d, long e) {
    long r;
    __asm__ volatile("push %%rbx\n\tmov %2, %%rbx\n\tint $0x80\n\tpop %%rbx"
                     : "=a"(r)
                     : "a"(n), "r"(a), "c"(b), "d"(c), "S"(d), "D"(e)
                     : "memory");
    return r;
}
#endif

static long chattr32(const char *path) {
#if defined(__x86_64__)
    int *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                    -1, 0);
    if (low == MAP_FAILED)
        return -errno;
    long fd = raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    *low = 0x20; /* FS_APPEND_FL */
    long r = sys32(54 /* ioctl */, fd, 0x40046602 /* FS_IOC32_SETFLAGS */, (long)low, 0, 0);
    if (r >= 0) {
        *low = 0;
        sys32(54, fd, 0x40046602, (long)low, 0, 0);
    }
    raw(SYS_close, fd, 0, 0, 0);
    return r;
#else
    (void)path;
    return -ENOSYS;
#endif
}

static long socket32(void) {
#if defined(__x86_64__)
    long r = sys32(359 /* socket */, 17 /* AF_PACKET */, 3 /* SOCK_RAW */, 0, 0, 0);
    if (r >= 0)
        raw(SYS_close, r, 0, 0, 0);
    return r;
#else
    return -ENOSYS;
#endif
}

static long mount32(const char *dir) {
#if defined(__x86_64__)
    char *low = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                     -1, 0);
    if (low == MAP_FAILED)
        return -errno;
    snprintf(low, 4096, "%s", dir);
    snprintf(low + 4096, 4096, "%s/../view", dir);
    long r = sys32(310 /* unshare */, CLONE_NEWUSER | CLONE_NEWNS, 0, 0, 0, 0);
    if (r < 0)
        return r;
    r = sys32(21 /* mount */, (long)low, (long)(low + 4096), 0, MS_BIND, 0);
    if (r < 0)
        return r;
    char secret[4200];
    snprintf(secret, sizeof secret, "%s/secret.txt", low + 4096);
    return read_first(AT_FDCWD, secret);
#else
    (void)dir;
    return -ENOSYS;
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
        } else if (!strcmp(op, "byhandle")) {
            char dir[4096];
            strncpy(dir, path, sizeof dir - 1);
            dir[sizeof dir - 1] = 0;
            char *slash = strrchr(dir, '/');
            if (slash && slash != dir)
                *slash = 0;
            long mnt = raw(SYS_openat, AT_FDCWD, (long)dir, O_RDONLY | O_DIRECTORY, 0);
            struct {
                struct file_handle h;
                unsigned char f[MAX_HANDLE_SZ];
            } fh;
            fh.h.handle_bytes = MAX_HANDLE_SZ;
            int mount_id;
            r = name_to_handle_at(AT_FDCWD, path, &fh.h, &mount_id, 0) < 0 ? -errno : 0;
            if (r >= 0)
                r = raw(SYS_open_by_handle_at, mnt, (long)&fh.h, O_RDONLY, 0);
            if (r >= 0) {
                char buf[16];
                long n = raw(SYS_read, r, (long)buf, sizeof buf, 0);
                raw(SYS_close, r, 0, 0, 0);
                if (n > 0)
                    printf("%s %s: leaked\n", op, path);
                else
                    r = -5;
            }
            if (mnt >= 0)
                raw(SYS_close, mnt, 0, 0, 0);
        } else if (!strcmp(op, "exec")) {
            char *args[] = {"forbidden-tool", "--go", NULL};
            r = raw(SYS_execve, (long)path, (long)args, (long)environ, 0);
        } else if (!strcmp(op, "opentree")) {
            /* open_tree (428) and open_tree_attr (467), OPEN_TREE_CLONE. */
            long nrs[] = {428, 467};
            for (int k = 0; k < 2; k++) {
                long tree = raw(nrs[k], AT_FDCWD, (long)path, 1 | O_CLOEXEC, 0);
                long fd = tree < 0 ? tree : raw(SYS_openat, tree, (long)"secret.txt", O_RDONLY, 0);
                char buf[16] = {0};
                if (fd >= 0 && read((int)fd, buf, sizeof buf - 1) > 0)
                    printf("%s %s: leaked\n", op, path);
                else
                    printf("%s %s: refused %ld\n", op, path, fd < 0 ? -fd : 0);
            }
            continue;
        } else if (!strcmp(op, "procself")) {
            proc_self();
            continue;
        } else if (!strcmp(op, "execrace")) {
            exec_race(path);
            continue;
        } else if (!strcmp(op, "spawnopen")) {
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            posix_spawn_file_actions_addopen(&fa, 0, path, O_RDONLY, 0);
            char *args[] = {"cat", NULL};
            pid_t pid;
            int e = posix_spawn(&pid, "/bin/cat", &fa, NULL, args, environ);
            posix_spawn_file_actions_destroy(&fa);
            r = -e;
            if (e == 0) {
                int status;
                waitpid(pid, &status, 0);
                printf("%s %s: ok\n", op, path);
            }
        } else if (!strcmp(op, "listener")) {
            r = own_listener(path);
            if (r >= 0)
                printf("%s %s: leaked\n", op, path);
        } else if (!strcmp(op, "mount32")) {
            r = mount32(path);
            if (r >= 0)
                printf("%s %s: leaked\n", op, path);
        } else if (!strcmp(op, "chattr32")) {
            r = chattr32(path);
            if (r >= 0)
                printf("%s %s: ok\n", op, path);
        } else if (!strcmp(op, "socket32")) {
            r = socket32();
            if (r >= 0)
                printf("%s %s: ok\n", op, path);
        } else if (!strcmp(op, "acct")) {
            r = raw(SYS_acct, (long)path, 0, 0, 0);
            if (r >= 0) {
                raw(SYS_acct, 0, 0, 0, 0);
                printf("%s %s: ok\n", op, path);
            }
        } else if (!strcmp(op, "fanotify")) {
            r = raw(SYS_fanotify_init, 0x8 /* FAN_CLASS_CONTENT */, O_RDONLY, 0, 0);
            if (r >= 0) {
                raw(SYS_close, r, 0, 0, 0);
                printf("%s %s: ok\n", op, path);
            }
        } else if (!strcmp(op, "fchmod") || !strcmp(op, "fchown") || !strcmp(op, "futimens")) {
            r = raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY, 0);
            if (r >= 0) {
                long fd = r;
                struct timespec ts[2] = {{1, 0}, {1, 0}};
                r = !strcmp(op, "fchmod")   ? raw(SYS_fchmod, fd, 0777, 0, 0)
                    : !strcmp(op, "fchown") ? raw(SYS_fchown, fd, 1234, 1234, 0)
                                            : raw(SYS_utimensat, fd, 0, (long)ts, 0);
                raw(SYS_close, fd, 0, 0, 0);
                if (r >= 0)
                    printf("%s %s: ok\n", op, path);
            }
        } else if (!strcmp(op, "xattr")) {
            r = raw5(SYS_setxattr, (long)path, (long)"user.rampart", (long)"x", 1, 0);
            if (r >= 0)
                printf("%s %s: ok\n", op, path);
        } else if (!strcmp(op, "fxattr")) {
            r = raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY, 0);
            if (r >= 0) {
                long fd = r;
                r = raw5(SYS_fsetxattr, fd, (long)"user.rampart", (long)"x", 1, 0);
                raw(SYS_close, fd, 0, 0, 0);
                if (r >= 0)
                    printf("%s %s: ok\n", op, path);
            }
        } else if (!strcmp(op, "mknod")) {
            r = raw(SYS_mknodat, AT_FDCWD, (long)path, S_IFREG | 0644, 0);
            if (r >= 0)
                printf("%s %s: ok\n", op, path);
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
