/* Tries to read a protected file by another name, as a hostile program
 * under enforcement would.
 *
 *   other_names names SECRET DIR   every other name for SECRET (which is
 *                                  DIR/secret.txt); one line per attempt:
 *                                  "NAME leaked" or "NAME refused ERRNO"
 *                                  (with " but left a descriptor open"
 *                                  when the refused open kept one)
 *   other_names race SECRET DIR N  three races: a thread that swaps a
 *                                  symlink between a harmless file and
 *                                  SECRET (N reads, then N/4 truncating
 *                                  opens), and a thread that rewrites the
 *                                  path string between the check and the
 *                                  open (N reads); prints
 *                                  "RACE leaks=K opens=M"
 *
 *   other_names closeless SECRET DIR
 *                                  installs a seccomp filter of its own that
 *                                  makes close() fail, opens a link to
 *                                  SECRET, then reads every descriptor it
 *                                  holds: "closeless refused ERRNO" and
 *                                  "scan leaked" or "scan clean"
 *
 *   other_names late SECRET DIR N  N reads of a path string that another
 *                                  thread rewrites to SECRET a moment after
 *                                  the call started (0 to about 200 µs
 *                                  later, a different delay each time),
 *                                  each read an inline openat (no hook of
 *                                  libc sees it): "late leaks=K opens=M"
 *
 *   other_names unlinklate SECRET DIR N
 *                                  the same with an inline unlinkat of a
 *                                  harmless file: "unlinklate leaks=K
 *                                  unlinks=M", a leak the secret deleted
 *
 *   other_names unlinkcall SECRET DIR N
 *                                  the same with libc's unlink (the hook,
 *                                  in the dynamic build): "unlinkcall
 *                                  leaks=K unlinks=M"
 *
 *   other_names places GUARDED OPEN N
 *                                  GUARDED and OPEN are directories that
 *                                  both hold a file `key.txt`, the policy
 *                                  refuses GUARDED's: a raw chdir into
 *                                  GUARDED (no hook sees it) then a read of
 *                                  "key.txt"; then N relative reads while a
 *                                  thread moves the working directory
 *                                  between the two; then N reads through a
 *                                  directory descriptor that a thread
 *                                  points at one then the other (dup2):
 *                                  "raw-chdir leaks=K opens=M",
 *                                  "cwd-swap leaks=K opens=M",
 *                                  "dirfd-swap leaks=K opens=M"
 *
 *   other_names spin SECRET DIR N  a thread keeps reading descriptors 3-31
 *                                  while the main thread opens a link to
 *                                  SECRET N times: "spin leaks=K opens=M"
 *
 * A "leak" is a read that returned the secret's first bytes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "raw.h"
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RESOLVE_IN_ROOT
#define RESOLVE_IN_ROOT 0x10
#endif
struct how {
    uint64_t flags, mode, resolve;
};

static const char MARK[] = "s3cret";

/* 1 when fd reads the secret's mark; closes fd. */
static int leaks(int fd) {
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 && strstr(buf, MARK) != NULL;
}

/* The lowest free descriptor while nothing is open but what should be: a
 * refused open that left its descriptor open shows as a higher one. */
static int free_fd;

static int lowest_free(void) {
    int fd = dup(0);
    close(fd);
    return fd;
}

static void report(const char *name, int fd) {
    if (fd >= 0) {
        int l = leaks(fd);
        printf("%s %s\n", name, l ? "leaked" : "opened-other");
    } else {
        int e = errno;
        if (lowest_free() != free_fd)
            printf("%s refused %d but left a descriptor open\n", name, e);
        else
            printf("%s refused %d\n", name, e);
    }
    fflush(stdout);
}

static int names(const char *secret, const char *dir) {
    char p[4096];
    free_fd = lowest_free();
    snprintf(p, sizeof p, "%s/link-to-secret", dir);
    unlink(p);
    if (symlink(secret, p) != 0)
        perror("symlink");
    report("symlink", open(p, O_RDONLY));
    report("symlink-syscall", (int)syscall(SYS_openat, AT_FDCWD, p, O_RDONLY, 0));
    FILE *f = fopen(p, "r");
    report("symlink-fopen", f ? dup(fileno(f)) : -1);
    if (f)
        fclose(f);

    snprintf(p, sizeof p, "%s/dirlink", dir);
    unlink(p);
    if (symlink(dir, p) != 0)
        perror("symlink");
    snprintf(p, sizeof p, "%s/dirlink/secret.txt", dir);
    report("directory-symlink", open(p, O_RDONLY));
    snprintf(p, sizeof p, "%s/link-to-secret", dir);
    FILE *g = fopen("/dev/null", "r");
    g = g ? freopen(p, "r", g) : NULL;
    report("symlink-freopen", g ? dup(fileno(g)) : -1);
    if (g)
        fclose(g);

    if (chdir(dir) != 0)
        perror("chdir");
    report("proc-self-cwd", open("/proc/self/cwd/secret.txt", O_RDONLY));
    report("dot-dot-through-link", open("dirlink/../secret.txt", O_RDONLY));

    int d = open(dir, O_RDONLY | O_DIRECTORY);
    free_fd = lowest_free();
    snprintf(p, sizeof p, "/proc/self/fd/%d/secret.txt", d);
    report("proc-self-fd", open(p, O_RDONLY));
    struct how h = {O_RDONLY, 0, RESOLVE_IN_ROOT};
    report("openat2-in-root",
           (int)syscall(SYS_openat2, d, "/secret.txt", &h, sizeof h));
    report("openat2-in-root-link",
           (int)syscall(SYS_openat2, d, "/link-to-secret", &h, sizeof h));
    /* A larger `how` whose tail is zero is the same call to the kernel. */
    struct {
        struct how h;
        uint64_t tail[5];
    } big = {{O_RDONLY, 0, 0}, {0}};
    snprintf(p, sizeof p, "%s/link-to-secret", dir);
    report("openat2-larger-how-link",
           (int)syscall(SYS_openat2, AT_FDCWD, p, &big, sizeof big));
    big.h.resolve = RESOLVE_IN_ROOT;
    report("openat2-larger-how-in-root",
           (int)syscall(SYS_openat2, d, "/link-to-secret", &big, sizeof big));
    close(d);
    return 0;
}

static volatile int stop;
static char swap_path[4096], harmless[4096], secret_path[4096], tmp_link[4096];
static char racy[4096];

/* Keeps swapping swap_path between a link to the harmless file and a link
 * to the secret (rename of a fresh link over it: always some link). */
static void *swap_links(void *arg) {
    (void)arg;
    for (unsigned i = 0; !stop; i++) {
        unlink(tmp_link);
        if (symlink(i & 1 ? secret_path : harmless, tmp_link) == 0)
            rename(tmp_link, swap_path);
    }
    return NULL;
}

/* Keeps rewriting the path string the main thread opens. */
static void *swap_string(void *arg) {
    (void)arg;
    size_t n = strlen(harmless) + 1, m = strlen(secret_path) + 1;
    for (unsigned i = 0; !stop; i++) {
        if (i & 1)
            memcpy(racy, secret_path, m);
        else
            memcpy(racy, harmless, n);
    }
    return NULL;
}

/* flags O_RDONLY: a leak is a read of the secret; else (a truncating
 * open) a leak is a secret found cut to nothing afterwards. */
static void race(const char *name, void *(*swapper)(void *), const char *path, int n,
                 int flags) {
    pthread_t t;
    stop = 0;
    pthread_create(&t, NULL, swapper, NULL);
    int leaked = 0, opened = 0;
    for (int i = 0; i < n; i++) {
        int fd = open(path, flags);
        if (fd >= 0) {
            opened++;
            if (flags == O_RDONLY)
                leaked += leaks(fd);
            else
                close(fd);
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    struct stat st;
    if (flags != O_RDONLY && stat(secret_path, &st) == 0 && st.st_size == 0)
        leaked = 1;
    printf("%s leaks=%d opens=%d\n", name, leaked, opened);
    fflush(stdout);
}

static char guarded_dir[4096], open_dir[4096];
static int guarded_fd, open_fd;

/* Keeps moving the working directory between the two places. */
static void *swap_cwd(void *arg) {
    (void)arg;
    while (!stop) {
        chdir(guarded_dir);
        chdir(open_dir);
    }
    return NULL;
}

/* Keeps pointing descriptor 100 at one place, then the other. */
static void *swap_dirfd(void *arg) {
    (void)arg;
    while (!stop) {
        dup2(guarded_fd, 100);
        dup2(open_fd, 100);
    }
    return NULL;
}

static void places_race(const char *name, void *(*swapper)(void *), int dirfd, int n) {
    pthread_t t;
    stop = 0;
    pthread_create(&t, NULL, swapper, NULL);
    int leaked = 0, opened = 0;
    for (int i = 0; i < n; i++) {
        int fd = openat(dirfd, "key.txt", O_RDONLY);
        if (fd >= 0) {
            opened++;
            leaked += leaks(fd);
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("%s leaks=%d opens=%d\n", name, leaked, opened);
    fflush(stdout);
}

static int places(const char *guarded, const char *open_place, int n) {
    snprintf(guarded_dir, sizeof guarded_dir, "%s", guarded);
    snprintf(open_dir, sizeof open_dir, "%s", open_place);
    guarded_fd = open(guarded, O_RDONLY | O_DIRECTORY);
    open_fd = open(open_place, O_RDONLY | O_DIRECTORY);
    if (guarded_fd < 0 || open_fd < 0) {
        perror("places");
        return 2;
    }
    /* The library last saw the working directory change to OPEN. */
    chdir(open_place);
    int fd = open("key.txt", O_RDONLY);
    int opened = fd >= 0;
    if (fd >= 0)
        close(fd);
    raw(SYS_chdir, (long)guarded, 0, 0, 0);
    fd = open("key.txt", O_RDONLY);
    int leaked = fd >= 0 ? leaks(fd) : 0;
    printf("raw-chdir leaks=%d opens=%d\n", leaked, opened);
    fflush(stdout);
    chdir(open_place);
    places_race("cwd-swap", swap_cwd, AT_FDCWD, n);
    chdir(open_place);
    dup2(open_fd, 100);
    places_race("dirfd-swap", swap_dirfd, 100, n);
    return 0;
}

/* close() fails with EPERM from here on, for this process and its
 * children: a tracer that closes a refused descriptor by making the
 * process call close() is refused too. */
static void refuse_close(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {4, f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) != 0)
        perror("seccomp");
}

static int closeless(const char *secret, const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/closeless-link", dir);
    unlink(p);
    if (symlink(secret, p) != 0)
        perror("symlink");
    refuse_close();
    int fd = open(p, O_RDONLY);
    if (fd >= 0)
        printf("closeless opened\n");
    else
        printf("closeless refused %d\n", errno);
    fflush(stdout);
    int leaked = 0;
    for (int d = 3; d < 64; d++) {
        char buf[64] = {0};
        if (pread(d, buf, sizeof buf - 1, 0) > 0 && strstr(buf, MARK))
            leaked = 1;
    }
    printf("scan %s\n", leaked ? "leaked" : "clean");
    return 0;
}

static volatile int late_go, late_done;
static volatile unsigned late_delay;

/* Waits for each call to start, lets it get a little way (late_delay
 * spins), then writes the secret's name over the path being opened. */
static void *swap_late(void *arg) {
    (void)arg;
    for (int seen = 0; !stop;) {
        int go = __atomic_load_n(&late_go, __ATOMIC_ACQUIRE);
        if (go == seen)
            continue;
        seen = go;
        for (volatile unsigned s = 0; s < late_delay; s++)
            ;
        memcpy(racy, secret_path, strlen(secret_path) + 1);
        __atomic_store_n(&late_done, seen, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* unlink: each call an inline unlinkat of the harmless file (made again
 * each time), a "leak" the secret found gone afterwards (then put back);
 * `libc`: libc's unlink instead. */
static int late(int n, int unlink_it, int libc) {
    pthread_t t;
    stop = 0;
    pthread_create(&t, NULL, swap_late, NULL);
    int leaked = 0, opened = 0;
    for (int i = 1; i <= n; i++) {
        memcpy(racy, harmless, strlen(harmless) + 1);
        if (unlink_it) {
            FILE *h = fopen(harmless, "w");
            if (h)
                fclose(h);
        }
        late_delay = (unsigned)(i * 7919) % 40000;
        __atomic_store_n(&late_go, i, __ATOMIC_RELEASE);
        long r = libc        ? unlink(racy)
                 : unlink_it ? raw(SYS_unlinkat, AT_FDCWD, (long)racy, 0, 0)
                             : raw(SYS_openat, AT_FDCWD, (long)racy, O_RDONLY, 0);
        while (__atomic_load_n(&late_done, __ATOMIC_ACQUIRE) != i)
            ;
        if (r >= 0)
            opened++;
        if (unlink_it && access(secret_path, F_OK) != 0) {
            leaked++;
            FILE *s = fopen(secret_path, "w");
            if (s) {
                fputs(MARK, s);
                fclose(s);
            }
        } else if (!unlink_it && r >= 0) {
            leaked += leaks((int)r);
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("%s leaks=%d %s=%d\n", libc ? "unlinkcall" : unlink_it ? "unlinklate" : "late", leaked,
           unlink_it ? "unlinks" : "opens", opened);
    fflush(stdout);
    return 0;
}

static volatile int spun_leaks;

/* Reads every descriptor in 3-31 over and over: a refused open's
 * descriptor that lives even for a moment is read here. */
static void *spin_reads(void *arg) {
    (void)arg;
    while (!stop) {
        for (int d = 3; d < 32; d++) {
            char buf[64] = {0};
            if (pread(d, buf, sizeof buf - 1, 0) > 0 && strstr(buf, MARK))
                spun_leaks++;
        }
    }
    return NULL;
}

static int spin(const char *secret, const char *dir, int n) {
    char p[4096];
    snprintf(p, sizeof p, "%s/spin-link", dir);
    unlink(p);
    if (symlink(secret, p) != 0)
        perror("symlink");
    pthread_t t;
    stop = 0;
    pthread_create(&t, NULL, spin_reads, NULL);
    int opened = 0;
    for (int i = 0; i < n; i++) {
        int fd = open(p, O_RDONLY);
        if (fd >= 0) {
            opened++;
            close(fd);
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("spin leaks=%d opens=%d\n", spun_leaks, opened);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "names") == 0)
        return names(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "closeless") == 0)
        return closeless(argv[2], argv[3]);
    if (argc >= 5 && strcmp(argv[1], "places") == 0)
        return places(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 5 && strcmp(argv[1], "spin") == 0)
        return spin(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 5 && strcmp(argv[1], "race") == 0) {
        int n = atoi(argv[4]);
        snprintf(secret_path, sizeof secret_path, "%s", argv[2]);
        snprintf(harmless, sizeof harmless, "%s/harmless.txt", argv[3]);
        snprintf(swap_path, sizeof swap_path, "%s/swap", argv[3]);
        snprintf(tmp_link, sizeof tmp_link, "%s/swap.tmp", argv[3]);
        FILE *h = fopen(harmless, "w");
        if (h) {
            fputs("harmless\n", h);
            fclose(h);
        }
        unlink(swap_path);
        if (symlink(harmless, swap_path) != 0)
            perror("symlink");
        race("symlink-swap", swap_links, swap_path, n, O_RDONLY);
        race("truncating-symlink-swap", swap_links, swap_path, n / 4, O_WRONLY | O_TRUNC);
        /* The string is at most as long as the longer of the two names. */
        memcpy(racy, harmless, strlen(harmless) + 1);
        race("string-swap", swap_string, racy, n, O_RDONLY);
        return 0;
    }
    if (argc >= 5 && (strcmp(argv[1], "late") == 0 || strcmp(argv[1], "unlinklate") == 0 ||
                      strcmp(argv[1], "unlinkcall") == 0)) {
        snprintf(secret_path, sizeof secret_path, "%s", argv[2]);
        snprintf(harmless, sizeof harmless, "%s/harmless.txt", argv[3]);
        FILE *h = fopen(harmless, "w");
        if (h) {
            fputs("harmless\n", h);
            fclose(h);
        }
        return late(atoi(argv[4]), argv[1][0] == 'u', strcmp(argv[1], "unlinkcall") == 0);
    }
    fprintf(stderr,
            "usage: other_names names SECRET DIR | race|late|unlinklate|unlinkcall|spin SECRET DIR N"
            " | places GUARDED OPEN N\n");
    return 2;
}
