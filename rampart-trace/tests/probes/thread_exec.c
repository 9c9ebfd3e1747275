// A non-leader thread opens argv[1], then execs /bin/echo while the main
// thread sleeps in pthread_join: the exec must be seen and the process id kept.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

extern char **environ;
static const char *file;

static void *worker(void *arg) {
    (void)arg;
    close(open(file, O_RDONLY));
    char *argv[] = {"echo", "from-thread", NULL};
    execve("/bin/echo", argv, environ);
    return NULL;
}

int main(int argc, char **argv) {
    file = argv[1];
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    sleep(10);
    return 1;
}
