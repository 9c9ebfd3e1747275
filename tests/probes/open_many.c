/* open_many NPROC NOPENS PATH: NPROC processes each open (and close) PATH
 * NOPENS times, concurrently. Exits non-zero if any open fails. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: open_many NPROC NOPENS PATH\n"); return 2; }
    int nproc = atoi(argv[1]), nopens = atoi(argv[2]);
    for (int p = 0; p < nproc; p++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            for (int i = 0; i < nopens; i++) {
                int fd = open(argv[3], O_RDONLY);
                if (fd < 0) { perror("open"); _exit(1); }
                close(fd);
            }
            _exit(0);
        }
    }
    int failed = 0, st;
    while (wait(&st) > 0) if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
    return failed;
}
