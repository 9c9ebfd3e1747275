// Exit statuses and signals: argv[1] selects exit(3), death by SIGTERM or
// SIGSEGV, a handled SIGUSR1, or a child stopped with SIGSTOP and continued.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void on_usr1(int s) { (void)s; handled = 1; }

int main(int argc, char **argv) {
    const char *what = argv[1];
    if (!strcmp(what, "exit3")) return 3;
    if (!strcmp(what, "sigterm")) { kill(getpid(), SIGTERM); pause(); }
    if (!strcmp(what, "segv")) { volatile int *p = 0; return *p; }
    if (!strcmp(what, "usr1")) {
        signal(SIGUSR1, on_usr1);
        kill(getpid(), SIGUSR1);
        return handled ? 0 : 1;
    }
    if (!strcmp(what, "stopcont")) {
        pid_t c = fork();
        if (c == 0) { raise(SIGSTOP); _exit(7); }
        int st;
        waitpid(c, &st, WUNTRACED);
        if (!WIFSTOPPED(st)) return 10;
        kill(c, SIGCONT);
        waitpid(c, &st, 0);
        return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : 11;
    }
    return 100;
}
