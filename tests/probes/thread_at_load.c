/* A library whose constructor starts a thread (as a profiler or a memory
 * agent preloaded into every process does): preloaded into rampart itself,
 * rampart has a second thread before it starts its tap. */
#include <pthread.h>
#include <unistd.h>

static void *idle(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return 0;
}

__attribute__((constructor)) static void start(void) {
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    pthread_detach(t);
}
