/* no_exec_gain PROGRAM ARG... : runs PROGRAM with memory that may not be
 * made executable once writable (prctl PR_SET_MDWE, kept across exec), as
 * a hardened service runs: code cannot be patched in that process. */
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: no_exec_gain PROGRAM ARG...\n");
        return 2;
    }
    if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0) {
        perror("prctl(PR_SET_MDWE)");
        return 2;
    }
    execv(argv[1], argv + 1);
    perror("execv");
    return 127;
}
