// Every way to open a file, in the directory argv[1]: open (create),
// openat with a dirfd and a relative path, open relative to the cwd after
// chdir, creat, openat2 through syscall(), fopen for reading and appending,
// a path with "..", and an open that fails.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *dir = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    close(openat(d, "a.txt", O_RDONLY));
    openat(d, "missing.txt", O_RDONLY);
    if (chdir(dir) != 0) return 2;
    close(open("rel.txt", O_RDWR | O_CREAT, 0644));
    close(creat("c.txt", 0644));
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY;
    close(syscall(SYS_openat2, AT_FDCWD, "a.txt", &how, sizeof how));
    FILE *f = fopen("a.txt", "r");
    if (f) fclose(f);
    f = fopen("log.txt", "a");
    if (f) fclose(f);
    mkdir("sub", 0755);
    close(open("sub/../a.txt", O_RDONLY));
    return 0;
}
