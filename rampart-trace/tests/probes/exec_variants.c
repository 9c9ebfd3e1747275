// Every way to start a program: execve, execveat (dirfd + relative path),
// fexecve, posix_spawn, system, and a failing execve. Each child runs
// /bin/true with the variant's name as its argument.
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void in_child(void (*fn)(void)) {
    pid_t pid = fork();
    if (pid == 0) { fn(); _exit(99); }
    int st;
    waitpid(pid, &st, 0);
}

static void do_execve(void) {
    char *argv[] = {"true", "execve", NULL};
    execve("/bin/true", argv, environ);
}
static void do_execveat(void) {
    char *argv[] = {"true", "execveat", NULL};
    int dir = open("/bin", O_PATH | O_DIRECTORY);
    syscall(SYS_execveat, dir, "true", argv, environ, 0);
}
static void do_fexecve(void) {
    char *argv[] = {"true", "fexecve", NULL};
    int fd = open("/bin/true", O_RDONLY);
    fexecve(fd, argv, environ);
}
static void do_failing(void) {
    char *argv[] = {"missing", "failing", NULL};
    execve("/nonexistent/missing", argv, environ);
    _exit(0);
}

int main(void) {
    in_child(do_execve);
    in_child(do_execveat);
    in_child(do_fexecve);
    in_child(do_failing);
    pid_t pid;
    char *argv[] = {"true", "posix_spawn", NULL};
    if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0) {
        int st;
        waitpid(pid, &st, 0);
    }
    return system("/bin/true system") == 0 ? 0 : 1;
}
