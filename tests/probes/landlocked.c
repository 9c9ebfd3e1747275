/* landlocked ALLOWED DENIED [child] : puts itself in a Landlock domain that lets
 * it read, write and remove files beneath the directory ALLOWED only,
 * then makes its calls with the `syscall` instruction itself (past any
 * hook), one line each:
 *
 *   "confined" (or "no landlock ERRNO", and nothing else)
 *   "read ALLOWED/ok: ok"        openat(O_RDONLY) of a file it may read
 *   "read DENIED: refused ERRNO" openat(O_RDONLY), "ok" when it opened
 *   "write DENIED: ..."          openat(O_WRONLY|O_APPEND), writes "pwned"
 *   "unlink DENIED: ..."         unlinkat
 *
 * With "child", the calls are made by a child it forks once it is
 * confined (the domain is inherited): the same lines after "confined".
 * A program that sandboxes itself must stay sandboxed under rampart: the
 * last three say "refused 13" on a bare run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raw.h"

static void report(const char *op, const char *path, long r) {
    if (r < 0)
        printf("%s %s: refused %ld\n", op, path, -r);
    else
        printf("%s %s: ok\n", op, path);
    fflush(stdout);
}

static int calls(char **argv);

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: landlocked ALLOWED DENIED [child]\n");
        return 2;
    }
    __u64 rights = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                   LANDLOCK_ACCESS_FS_REMOVE_FILE;
    struct landlock_ruleset_attr attr = {.handled_access_fs = rights};
    /* Through libc's syscall(), as programs that sandbox themselves do
     * (glibc has no wrapper): in a preloaded program, past its hook. */
    long ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        printf("no landlock %d\n", errno);
        return 0;
    }
    int dir = open(argv[1], O_PATH | O_CLOEXEC);
    struct landlock_path_beneath_attr beneath = {.allowed_access = rights, .parent_fd = dir};
    long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
    if (r < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        printf("no landlock %d\n", errno);
        return 0;
    }
    r = syscall(SYS_landlock_restrict_self, ruleset, 0);
    if (r < 0) {
        printf("no landlock %d\n", errno);
        return 0;
    }
    close((int)ruleset);
    close(dir);
    printf("confined\n");
    fflush(stdout);
    if (argc == 4) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(calls(argv));
        int status;
        waitpid(pid, &status, 0);
        return 0;
    }
    return calls(argv);
}

static int calls(char **argv) {
    char ok[4096];
    long r;
    snprintf(ok, sizeof ok, "%s/ok", argv[1]);
    r = raw(SYS_openat, AT_FDCWD, (long)ok, O_RDONLY, 0);
    report("read", ok, r);
    r = raw(SYS_openat, AT_FDCWD, (long)argv[2], O_RDONLY, 0);
    report("read", argv[2], r);
    r = raw(SYS_openat, AT_FDCWD, (long)argv[2], O_WRONLY | O_APPEND, 0);
    if (r >= 0)
        raw(SYS_write, r, (long)"pwned", 5, 0);
    report("write", argv[2], r);
    r = raw(SYS_unlinkat, AT_FDCWD, (long)argv[2], 0, 0);
    report("unlink", argv[2], r);
    return 0;
}
