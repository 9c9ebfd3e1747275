/*
 * Probe program for the preload tests: each subcommand makes one family of
 * calls the library interposes and prints what the program saw (results,
 * errno), so a test can compare runs with and without the library.
 *
 *   probe opens DIR            every open variant on files under DIR
 *   probe errno                failing opens; prints each errno
 *   probe exec VARIANT ...     exec /usr/bin/echo through VARIANT
 *   probe execvp-missing NAME  execvp a name not on PATH; prints errno
 *   probe vfork                vfork+execve, then an open in the parent
 *   probe vfork-chdir DIR      vfork, child chdir DIR + execve; parent then
 *                              opens a relative file
 *   probe threads N            N threads, each forks and execs, concurrently
 *   probe close-range FILE     open, close every descriptor, open FILE; three
 *                              times (SYS_close_range, close_range, closefrom)
 *   probe close-loop FILE      open, close() fds 3..1023 one by one, open FILE
 *   probe cwd-moves A B        relative opens across chdir, fchdir, SYS_chdir
 *   probe dirfd-reuse A B      openat on a descriptor number reused for
 *                              another directory (close, closedir)
 *   probe dup2-all FILE        open, dup2 a socket over fds 3..950, open FILE;
 *                              prints how many bytes reached the socket
 *   probe unsetenv-exec CMD    unsetenv LD_PRELOAD and RAMPART_*, then sh -c CMD
 *   probe execle-bare CMD      execle sh -c CMD with an envp of one variable
 *   probe unsetenv-spawn CMD   unsetenv LD_PRELOAD and RAMPART_*, then
 *                              popen(CMD), system(CMD), posix_spawn sh -c CMD
 *   probe connect-ip PORT      tcp connect to 127.0.0.1:PORT
 *   probe connect-gai PORT     getaddrinfo("localhost") then connect
 *   probe connect-ghbn PORT    gethostbyname("localhost") then connect
 *   probe connect-udp PORT     udp connect to 127.0.0.1:PORT
 *   probe connect-unix PATH    connect to a unix socket
 *   probe long-argv N          exec /bin/true with an argument of N bytes
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>

extern char **environ;
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "probe: %s failed: %s\n", what, strerror(errno));
		exit(99);
	}
}

static void closefd(int fd, const char *what)
{
	check(fd >= 0, what);
	close(fd);
}

static int opens(const char *dir)
{
	check(chdir(dir) == 0, "chdir");
	mkdir("sub", 0755);
	int d = open("sub", O_RDONLY | O_DIRECTORY);
	check(d >= 0, "open sub");
	closefd(open("f-open", O_WRONLY | O_CREAT | O_TRUNC, 0644), "open");
	closefd(open64("./sub/../f-open64", O_WRONLY | O_CREAT, 0644), "open64");
	closefd(openat(d, "f-openat", O_RDWR | O_CREAT, 0644), "openat");
	closefd(openat64(AT_FDCWD, "sub//f-openat64", O_WRONLY | O_CREAT | O_APPEND, 0644), "openat64");
	closefd(__open_2("f-open", O_RDONLY), "__open_2");
	closefd(__open64_2("f-open", O_RDONLY), "__open64_2");
	closefd(__openat_2(d, "f-openat", O_RDONLY), "__openat_2");
	closefd(__openat64_2(d, "f-openat", O_RDONLY), "__openat64_2");
	closefd(creat("f-creat", 0644), "creat");
	closefd(creat64("sub/f-creat64", 0644), "creat64");
	FILE *f = fopen("f-fopen", "w");
	check(f != NULL, "fopen");
	fclose(f);
	f = fopen64("f-fopen", "r");
	check(f != NULL, "fopen64");
	f = freopen("f-freopen", "a+", f);
	check(f != NULL, "freopen");
	f = freopen64("f-open", "r", f);
	check(f != NULL, "freopen64");
	fclose(f);
	closefd(syscall(SYS_open, "f-sys-open", O_WRONLY | O_CREAT, 0644), "SYS_open");
	closefd(syscall(SYS_openat, d, "f-sys-openat", O_WRONLY | O_CREAT, 0644), "SYS_openat");
	struct open_how how = { .flags = O_RDONLY };
	closefd(syscall(SYS_openat2, d, "f-sys-openat", &how, sizeof how), "SYS_openat2");
	close(d);
	puts("opens done");
	return 0;
}

static int errnos(void)
{
	errno = 0;
	int r = open("/nonexistent-dir/x", O_RDONLY);
	printf("open missing: %d %d\n", r, errno);
	r = open("/", O_WRONLY);
	printf("open dir for writing: %d %d\n", r, errno);
	FILE *f = fopen("/nonexistent-dir/y", "r");
	printf("fopen missing: %p %d\n", (void *)f, errno);
	r = openat(12345, "rel", O_RDONLY);
	printf("openat bad dirfd: %d %d\n", r, errno);
	r = connect(12345, NULL, 0);
	printf("connect bad fd: %d %d\n", r, errno);
	errno = 0;
	r = open("/etc/hostname", O_RDONLY);
	printf("open ok leaves errno: %d\n", errno);
	return 0;
}

static int exec_variant(const char *v, char **rest)
{
	char *argv[] = { "echo", "from", (char *)v, NULL };
	char *envp[] = { "PROBE=1", NULL };
	if (!strcmp(v, "execve"))
		execve("/usr/bin/echo", argv, environ);
	else if (!strcmp(v, "execv"))
		execv("/usr/bin/echo", argv);
	else if (!strcmp(v, "execvp"))
		execvp("echo", argv);
	else if (!strcmp(v, "execvpe"))
		execvpe("echo", argv, envp);
	else if (!strcmp(v, "execl"))
		execl("/usr/bin/echo", "echo", "from", v, (char *)NULL);
	else if (!strcmp(v, "execlp"))
		execlp("echo", "echo", "from", v, (char *)NULL);
	else if (!strcmp(v, "execle"))
		execle("/usr/bin/echo", "echo", "from", v, (char *)NULL, envp);
	else if (!strcmp(v, "execveat")) {
		int d = open("/usr/bin", O_RDONLY | O_DIRECTORY);
		syscall(SYS_execveat, d, "echo", argv, environ, 0);
	} else if (!strcmp(v, "fexecve")) {
		int fd = open("/usr/bin/echo", O_RDONLY);
		fexecve(fd, argv, environ);
	} else if (!strcmp(v, "syscall"))
		syscall(SYS_execve, "/usr/bin/echo", argv, environ);
	else if (!strcmp(v, "script"))
		execvp(rest[0], argv);
	else if (!strcmp(v, "posix_spawn") || !strcmp(v, "posix_spawnp")) {
		pid_t pid;
		int r = v[11] == 'p' ? posix_spawnp(&pid, "echo", NULL, NULL, argv, environ)
				     : posix_spawn(&pid, "/usr/bin/echo", NULL, NULL, argv, environ);
		check(r == 0, "posix_spawn");
		int st;
		waitpid(pid, &st, 0);
		return WEXITSTATUS(st);
	} else if (!strcmp(v, "system")) {
		int st = system("echo from system");
		return WEXITSTATUS(st);
	} else if (!strcmp(v, "popen")) {
		FILE *p = popen("echo from popen", "r");
		check(p != NULL, "popen");
		char line[64];
		while (fgets(line, sizeof line, p))
			fputs(line, stdout);
		return WEXITSTATUS(pclose(p));
	} else {
		fprintf(stderr, "unknown variant %s\n", v);
		return 2;
	}
	fprintf(stderr, "probe: %s failed: %s\n", v, strerror(errno));
	return 98;
}

static int vfork_exec(const char *file)
{
	pid_t pid = vfork();
	if (pid == 0) {
		char *argv[] = { "echo", "from", "vfork", NULL };
		execve("/usr/bin/echo", argv, environ);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	closefd(open(file, O_RDONLY), "open after vfork");
	pid = vfork();
	if (pid == 0) {
		char *argv[] = { "echo", "from", "vfork2", NULL };
		execve("/usr/bin/echo", argv, environ);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	closefd(open(file, O_RDONLY), "open after second vfork");
	printf("parent %d\n", getpid());
	return 0;
}

static int vfork_chdir(const char *dir)
{
	closefd(open("before", O_WRONLY | O_CREAT, 0644), "open before");
	pid_t pid = vfork();
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(126);
		char *argv[] = { "true", NULL };
		execve("/usr/bin/true", argv, environ);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	closefd(open("after", O_WRONLY | O_CREAT, 0644), "open after");
	puts("vfork-chdir done");
	return 0;
}

static void *forker(void *arg)
{
	long n = (long)arg;
	for (int i = 0; i < 5; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			char idx[32];
			snprintf(idx, sizeof idx, "t%ld-%d", n, i);
			char *argv[] = { "true", idx, NULL };
			execv("/usr/bin/true", argv);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		closefd(open("/etc/hostname", O_RDONLY), "thread open");
	}
	return NULL;
}

static int threads(int n)
{
	pthread_t t[64];
	for (long i = 0; i < n && i < 64; i++)
		pthread_create(&t[i], NULL, forker, (void *)i);
	for (int i = 0; i < n && i < 64; i++)
		pthread_join(t[i], NULL);
	puts("threads done");
	return 0;
}

static int close_range_open(const char *file)
{
	closefd(open("/etc/hostname", O_RDONLY), "first open");
	check(syscall(SYS_close_range, 3, ~0U, 0) == 0, "SYS_close_range");
	closefd(open(file, O_RDONLY), "open after SYS_close_range");
	check(close_range(3, ~0U, 0) == 0, "close_range");
	closefd(open(file, O_RDONLY), "open after close_range");
	closefrom(3);
	closefd(open(file, O_RDONLY), "open after closefrom");
	puts("close-range done");
	return 0;
}

static int close_loop(const char *file)
{
	closefd(open("/etc/hostname", O_RDONLY), "first open");
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	closefd(open(file, O_RDONLY), "open after closing all");
	puts("close-loop done");
	return 0;
}

static int cwd_moves(const char *a, const char *b)
{
	int fa = open(a, O_RDONLY | O_DIRECTORY);
	check(fa >= 0, "open a");
	check(chdir(a) == 0, "chdir a");
	closefd(open("x1", O_WRONLY | O_CREAT, 0644), "x1");
	check(chdir(b) == 0, "chdir b");
	closefd(open("x2", O_WRONLY | O_CREAT, 0644), "x2");
	check(fchdir(fa) == 0, "fchdir a");
	closefd(open("x3", O_WRONLY | O_CREAT, 0644), "x3");
	check(syscall(SYS_chdir, b) == 0, "SYS_chdir b");
	closefd(open("x4", O_WRONLY | O_CREAT, 0644), "x4");
	puts("cwd-moves done");
	return 0;
}

static int dirfd_reuse(const char *a, const char *b)
{
	int d = open(a, O_RDONLY | O_DIRECTORY);
	check(d >= 0, "open a");
	closefd(openat(d, "y1", O_WRONLY | O_CREAT, 0644), "y1");
	close(d);
	int d2 = open(b, O_RDONLY | O_DIRECTORY);
	check(d2 == d, "same descriptor number");
	closefd(openat(d2, "y2", O_WRONLY | O_CREAT, 0644), "y2");
	close(d2);
	/* closedir closes inside glibc, where no hook sees it */
	DIR *da = opendir(a);
	check(da != NULL, "opendir a");
	int n = dirfd(da);
	closefd(openat(n, "y3", O_WRONLY | O_CREAT, 0644), "y3");
	closedir(da);
	DIR *db = opendir(b);
	check(db != NULL && dirfd(db) == n, "opendir b on the same number");
	closefd(openat(dirfd(db), "y4", O_WRONLY | O_CREAT, 0644), "y4");
	closedir(db);
	puts("dirfd-reuse done");
	return 0;
}

static int dup2_all(const char *file)
{
	closefd(open("/etc/hostname", O_RDONLY), "first open");
	/* A socket, not a pipe: a send on a pipe would fail by itself, a send
	 * on a connected stream socket would go through into the program. */
	int p[2];
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p) == 0, "socketpair");
	for (int fd = 3; fd <= 950; fd++)
		if (fd != p[0] && fd != p[1])
			dup2(p[1], fd);
	closefd(open(file, O_RDONLY), "open after dup2");
	char buf[65536];
	ssize_t n = read(p[0], buf, sizeof buf);
	printf("bytes in socket: %zd\n", n < 0 ? 0 : n);
	return 0;
}

static int unsetenv_exec(const char *cmd)
{
	unsetenv("LD_PRELOAD");
	unsetenv("RAMPART_SOCKET");
	unsetenv("RAMPART_AGENT");
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	return 98;
}

static int unsetenv_spawn(const char *cmd)
{
	unsetenv("LD_PRELOAD");
	unsetenv("RAMPART_SOCKET");
	FILE *p = popen(cmd, "r");
	check(p != NULL, "popen");
	char line[256];
	while (fgets(line, sizeof line, p))
		fputs(line, stdout);
	pclose(p);
	fflush(stdout);
	system(cmd);
	pid_t pid;
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	check(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0, "posix_spawn");
	int st;
	waitpid(pid, &st, 0);
	printf("still unset: %d\n", getenv("LD_PRELOAD") == NULL);
	return 0;
}

static int execle_bare(const char *cmd)
{
	char *envp[] = { "ONLY=1", NULL };
	execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, envp);
	return 98;
}

static int connect_to(struct sockaddr *sa, socklen_t len, int type)
{
	int s = socket(sa->sa_family, type, 0);
	check(s >= 0, "socket");
	int r = connect(s, sa, len);
	printf("connect: %d %d\n", r, r ? errno : 0);
	close(s);
	return 0;
}

static int connect_cmd(const char *how, const char *arg)
{
	if (!strcmp(how, "connect-unix")) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		strncpy(sun.sun_path, arg, sizeof sun.sun_path - 1);
		return connect_to((struct sockaddr *)&sun, sizeof sun, SOCK_STREAM);
	}
	int port = atoi(arg);
	if (!strcmp(how, "connect-gai")) {
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
		check(getaddrinfo("localhost", arg, &hints, &res) == 0, "getaddrinfo");
		connect_to(res->ai_addr, res->ai_addrlen, SOCK_STREAM);
		freeaddrinfo(res);
		return 0;
	}
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (!strcmp(how, "connect-ghbn")) {
		struct hostent *h = gethostbyname("localhost");
		check(h != NULL, "gethostbyname");
		memcpy(&sin.sin_addr, h->h_addr_list[0], 4);
	} else {
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	}
	return connect_to((struct sockaddr *)&sin, sizeof sin,
			  !strcmp(how, "connect-udp") ? SOCK_DGRAM : SOCK_STREAM);
}

static int long_argv(int n)
{
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = 0;
	execl("/usr/bin/true", "true", big, "after", (char *)NULL);
	return 98;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *c = argv[1];
	const char *a = argc > 2 ? argv[2] : "";
	if (!strcmp(c, "opens"))
		return opens(a);
	if (!strcmp(c, "errno"))
		return errnos();
	if (!strcmp(c, "exec"))
		return exec_variant(a, argv + 3);
	if (!strcmp(c, "execvp-missing")) {
		char *args[] = { (char *)a, NULL };
		execvp(a, args);
		printf("execvp: %d\n", errno);
		return 0;
	}
	if (!strcmp(c, "vfork"))
		return vfork_exec(a);
	if (!strcmp(c, "vfork-chdir"))
		return vfork_chdir(a);
	if (!strcmp(c, "threads"))
		return threads(atoi(a));
	if (!strcmp(c, "close-range"))
		return close_range_open(a);
	if (!strcmp(c, "close-loop"))
		return close_loop(a);
	if (!strcmp(c, "cwd-moves"))
		return cwd_moves(a, argv[3]);
	if (!strcmp(c, "dirfd-reuse"))
		return dirfd_reuse(a, argv[3]);
	if (!strcmp(c, "dup2-all"))
		return dup2_all(a);
	if (!strcmp(c, "unsetenv-exec"))
		return unsetenv_exec(a);
	if (!strcmp(c, "unsetenv-spawn"))
		return unsetenv_spawn(a);
	if (!strcmp(c, "execle-bare"))
		return execle_bare(a);
	if (!strncmp(c, "connect-", 8))
		return connect_cmd(c, a);
	if (!strcmp(c, "long-argv"))
		return long_argv(atoi(a));
	return 2;
}
