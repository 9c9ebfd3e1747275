/* calls OP ARG... : makes one call per operation, in order, and prints one
 * line per call with what the program saw ("OP ARG: ok" or "OP ARG: ENAME"),
 * so a test can compare a run with and without rampart, or in enforce mode.
 *
 *   open PATH        open(PATH, O_RDONLY)
 *   write PATH       open(PATH, O_WRONLY|O_CREAT|O_TRUNC), writes "x"
 *   creat PATH       the creat syscall itself (SYS_creat), writes "x"
 *   fopen PATH       fopen(PATH, "r")
 *   fwrite PATH      fopen(PATH, "w")
 *   opendir PATH     opendir(PATH): glibc opens it with its internal
 *                    __open_nocancel, which no interposed symbol sees
 *   opendir-small PATH  the same in a thread with a 16 KiB stack
 *   execve PATH      fork; the child execve(PATH, {PATH}); the parent waits
 *   execvp NAME      fork; the child execvp(NAME, {NAME}); the parent waits
 *   spawn PATH       posix_spawn(PATH), waits; prints the returned error
 *   spawnp NAME      posix_spawnp(NAME), waits
 *   system CMD       system(CMD): "-1 ENAME" or the exit status
 *   popen CMD        popen(CMD, "r"): "NULL ENAME" or the output's first line
 *   connect PORT     TCP connect to 127.0.0.1:PORT
 *   wait-for PATH    wait (stat, at most 60 s) until PATH exists
 *   sleep MS         sleep
 *   say TEXT         print TEXT
 *
 * A child that fails to exec prints its own line and exits 127.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *ename(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EINVAL: return "EINVAL";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static void result(const char *op, const char *arg, int ok, int err)
{
    if (ok)
        printf("%s %s: ok\n", op, arg);
    else
        printf("%s %s: %s\n", op, arg, ename(err));
}

struct small_open {
    const char *path;
    int ok, err;
};

static void *open_dir_small(void *arg)
{
    struct small_open *o = arg;
    DIR *d = opendir(o->path);
    o->ok = d != NULL;
    o->err = errno;
    if (d) closedir(d);
    return NULL;
}

static void wait_child(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *op = argv[i], *arg = argv[i + 1];
        if (!strcmp(op, "open")) {
            int fd = open(arg, O_RDONLY);
            result(op, arg, fd >= 0, errno);
            if (fd >= 0) close(fd);
        } else if (!strcmp(op, "write")) {
            int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            result(op, arg, fd >= 0, errno);
            if (fd >= 0) {
                if (write(fd, "x", 1) != 1) perror("write");
                close(fd);
            }
        } else if (!strcmp(op, "creat")) {
#ifdef SYS_creat
            int fd = (int)syscall(SYS_creat, arg, 0644);
#else
            int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
#endif
            result(op, arg, fd >= 0, errno);
            if (fd >= 0) {
                if (write(fd, "x", 1) != 1) perror("write");
                close(fd);
            }
        } else if (!strcmp(op, "fopen") || !strcmp(op, "fwrite")) {
            FILE *f = fopen(arg, op[1] == 'o' ? "r" : "w");
            result(op, arg, f != NULL, errno);
            if (f) fclose(f);
        } else if (!strcmp(op, "opendir")) {
            DIR *d = opendir(arg);
            result(op, arg, d != NULL, errno);
            if (d) closedir(d);
        } else if (!strcmp(op, "opendir-small")) {
            struct small_open o = {arg, 0, 0};
            pthread_attr_t attr;
            pthread_t t;
            pthread_attr_init(&attr);
            pthread_attr_setstacksize(&attr, 16384);
            if (pthread_create(&t, &attr, open_dir_small, &o) == 0)
                pthread_join(t, NULL);
            else
                o.err = EAGAIN;
            result(op, arg, o.ok, o.err);
        } else if (!strcmp(op, "execve") || !strcmp(op, "execvp")) {
            pid_t pid = fork();
            if (pid == 0) {
                char *args[] = {(char *)arg, NULL};
                if (op[4] == 'e')
                    execve(arg, args, environ);
                else
                    execvp(arg, args);
                result(op, arg, 0, errno);
                fflush(stdout);
                _exit(127);
            }
            wait_child(pid);
            /* The exec'd program prints nothing; say it ran. */
        } else if (!strcmp(op, "spawn") || !strcmp(op, "spawnp")) {
            pid_t pid;
            char *args[] = {(char *)arg, NULL};
            int r = op[5] == 'p' ? posix_spawnp(&pid, arg, NULL, NULL, args, environ)
                                 : posix_spawn(&pid, arg, NULL, NULL, args, environ);
            result(op, arg, r == 0, r);
            if (r == 0) wait_child(pid);
        } else if (!strcmp(op, "system")) {
            errno = 0;
            int r = system(arg);
            if (r == -1)
                printf("system %s: -1 %s\n", arg, ename(errno));
            else
                printf("system %s: status %d\n", arg, WEXITSTATUS(r));
        } else if (!strcmp(op, "popen")) {
            errno = 0;
            FILE *p = popen(arg, "r");
            if (!p) {
                printf("popen %s: NULL %s\n", arg, ename(errno));
            } else {
                char line[256] = "";
                if (!fgets(line, sizeof line, p)) line[0] = 0;
                line[strcspn(line, "\n")] = 0;
                int st = pclose(p);
                printf("popen %s: \"%s\" status %d\n", arg, line, WEXITSTATUS(st));
            }
        } else if (!strcmp(op, "connect")) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {0};
            a.sin_family = AF_INET;
            a.sin_port = htons((unsigned short)atoi(arg));
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int r = connect(s, (struct sockaddr *)&a, sizeof a);
            result(op, arg, r == 0, errno);
            close(s);
        } else if (!strcmp(op, "wait-for")) {
            struct stat st;
            int waited = 0;
            while (stat(arg, &st) != 0 && waited < 60000) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                waited += 10;
            }
        } else if (!strcmp(op, "sleep")) {
            int ms = atoi(arg);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else if (!strcmp(op, "say")) {
            printf("%s\n", arg);
        } else {
            fprintf(stderr, "calls: unknown operation %s\n", op);
            return 2;
        }
    }
    return 0;
}
