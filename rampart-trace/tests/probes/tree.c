// A process tree: fork (child opens DIR/fork, then forks a grandchild that
// opens DIR/grandchild), vfork + exec, a raw clone() child that opens
// DIR/clone, and a thread that opens DIR/thread. Writes "name pid ppid"
// lines to DIR/pids.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir;

static void touch(const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    close(open(p, O_WRONLY | O_CREAT, 0644));
    snprintf(p, sizeof p, "%s/pids", dir);
    FILE *f = fopen(p, "a");
    fprintf(f, "%s %d %d\n", name, getpid(), getppid());
    fclose(f);
}

static int clone_child(void *arg) {
    (void)arg;
    touch("clone");
    return 0;
}

static void *thread_main(void *arg) {
    (void)arg;
    touch("thread");
    return NULL;
}

int main(int argc, char **argv) {
    dir = argv[1];
    int st;
    pid_t c = fork();
    if (c == 0) {
        touch("fork");
        pid_t g = fork();
        if (g == 0) { touch("grandchild"); _exit(0); }
        waitpid(g, &st, 0);
        _exit(0);
    }
    waitpid(c, &st, 0);
    pid_t v = vfork();
    if (v == 0) {
        char *args[] = {"true", "vfork", NULL};
        execv("/bin/true", args);
        _exit(1);
    }
    waitpid(v, &st, 0);
    char *stack = malloc(1 << 16);
    pid_t k = clone(clone_child, stack + (1 << 16), SIGCHLD, NULL);
    waitpid(k, &st, 0);
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    touch("main");
    return 0;
}
