// An open interrupted by a signal and restarted (SA_RESTART): opening the
// FIFO argv[1] for reading blocks; SIGALRM's handler opens /dev/null and
// forks a child that opens the FIFO for writing a little later; the kernel
// restarts the first open after the handler, and it succeeds.
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fifo;
static void on_alarm(int s) {
    (void)s;
    close(open("/dev/null", O_RDONLY));
    if (fork() == 0) {
        usleep(200000);
        open(fifo, O_WRONLY);
        _exit(0);
    }
}

int main(int argc, char **argv) {
    fifo = argv[1];
    mkfifo(fifo, 0600);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    return open(fifo, O_RDONLY) >= 0 ? 0 : 1;
}
