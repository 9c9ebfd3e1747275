/* mutate DIR: in DIR, calls each libc function that changes the file system
 * without opening a file, once, with paths relative to the cwd and to a
 * directory descriptor of DIR/sub, and prints one line per call:
 * "N FUNCTION: ok" or "N FUNCTION: ENAME" (the errno's name). The calls and
 * their paths are listed in tests/mutations.rs, in the same order. The last
 * calls fail (a missing file) or change a descriptor's file (futimens of
 * one opened for reading).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static int n;

static void result(const char *fn, int r)
{
    int e = errno;
    n++;
    if (r == 0)
        printf("%d %s: ok\n", n, fn);
    else
        printf("%d %s: %s\n", n, fn, strerrorname_np(e));
}

static void make(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "data\n", 5) != 5) {
        perror(path);
        _exit(2);
    }
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 2 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: mutate DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    uid_t uid = getuid();
    gid_t gid = getgid();
    result("mkdir", mkdir("sub", 0755));
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        perror("sub");
        return 2;
    }
    make("f1");
    result("mkdirat", mkdirat(dfd, "d2", 0755));
    result("mkdir", mkdir("d1", 0755));
    result("rmdir", rmdir("d1"));
    result("unlinkat", unlinkat(dfd, "d2", AT_REMOVEDIR));
    result("rename", rename("f1", "f2"));
    result("renameat", renameat(AT_FDCWD, "f2", dfd, "f3"));
    result("renameat2", renameat2(dfd, "f3", AT_FDCWD, "./f4", RENAME_NOREPLACE));
    result("link", link("f4", "sub/hl"));
    result("linkat", linkat(dfd, "hl", AT_FDCWD, "hl2", 0));
    result("symlink", symlink("f4", "sl"));
    result("symlinkat", symlinkat("../f4", dfd, "sl2"));
    result("chmod", chmod("f4", 0600));
    result("fchmodat", fchmodat(dfd, "hl", 0640, 0));
    result("fchmodat2", (int)syscall(SYS_fchmodat2, AT_FDCWD, "f4", 0644, 0));
    result("chown", chown("f4", uid, gid));
    result("lchown", lchown("sl", uid, gid));
    result("fchownat", fchownat(dfd, "sl2", uid, gid, AT_SYMLINK_NOFOLLOW));
    result("fchownat", fchownat(AT_FDCWD, "", uid, gid, AT_EMPTY_PATH));
    result("truncate", truncate("f4", 1));
    result("truncate64", truncate64("hl2", 0));
    result("utime", utime("f4", NULL));
    result("utimes", utimes("f4", NULL));
    result("utimensat", utimensat(dfd, "hl", NULL, 0));
    result("lutimes", lutimes("sl", NULL));
    result("futimesat", futimesat(dfd, "sl2", NULL));
    result("unlink", unlink("sl"));
    result("remove", remove("hl2"));
    result("unlink", unlink("missing"));
    int fd = open("f4", O_RDONLY);
    result("futimens", futimens(fd, NULL));
    close(fd);
    close(dfd);
    return 0;
}
