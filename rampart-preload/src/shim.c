/*
 * Variadic entry points that Rust cannot define: open, open64, openat,
 * openat64, execl, execlp, execle, syscall. Each reads its arguments the way
 * glibc does and hands them to the Rust hook. The Rust functions are declared
 * hidden here, which keeps them out of the library's dynamic symbol table.
 * <unistd.h> is not included: its nonnull attributes would let the compiler
 * drop the NULL checks below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))

HIDDEN int rampart_open(const char *path, int flags, unsigned int mode, int large);
HIDDEN int rampart_openat(int dirfd, const char *path, int flags, unsigned int mode, int large);
HIDDEN int rampart_execve(const char *path, char *const argv[], char *const envp[]);
HIDDEN int rampart_execv(const char *path, char *const argv[]);
HIDDEN int rampart_execvp(const char *file, char *const argv[]);
HIDDEN long rampart_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6);

/* The mode argument exists only with O_CREAT or O_TMPFILE (glibc's rule). */
#define NEEDS_MODE(flags) (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE)

#define MODE_ARG(last, flags)                  \
	unsigned int mode = 0;                     \
	if (NEEDS_MODE(flags)) {                   \
		va_list ap;                            \
		va_start(ap, last);                    \
		mode = va_arg(ap, unsigned int);       \
		va_end(ap);                            \
	}

EXPORT int open(const char *path, int flags, ...)
{
	MODE_ARG(flags, flags);
	return rampart_open(path, flags, mode, 0);
}

EXPORT int open64(const char *path, int flags, ...)
{
	MODE_ARG(flags, flags);
	return rampart_open(path, flags, mode, 1);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags, flags);
	return rampart_openat(dirfd, path, flags, mode, 0);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags, flags);
	return rampart_openat(dirfd, path, flags, mode, 1);
}

/* Count the arguments after `arg` up to the terminating NULL. */
#define COUNT_ARGS(arg, argc)                                  \
	ptrdiff_t argc = 0;                                        \
	if ((arg) != NULL) {                                       \
		va_list ap;                                            \
		va_start(ap, arg);                                     \
		for (argc = 1; va_arg(ap, const char *) != NULL; argc++) { \
			if (argc == INT_MAX) {                             \
				va_end(ap);                                    \
				errno = E2BIG;                                 \
				return -1;                                     \
			}                                                  \
		}                                                      \
		va_end(ap);                                            \
	}

EXPORT int execl(const char *path, const char *arg, ...)
{
	COUNT_ARGS(arg, argc);
	char *argv[argc + 1];
	va_list ap;
	va_start(ap, arg);
	if (argc > 0)
		argv[0] = (char *)arg;
	for (ptrdiff_t i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return rampart_execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	COUNT_ARGS(arg, argc);
	char *argv[argc + 1];
	va_list ap;
	va_start(ap, arg);
	if (argc > 0)
		argv[0] = (char *)arg;
	for (ptrdiff_t i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return rampart_execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	COUNT_ARGS(arg, argc);
	char *argv[argc + 1];
	char **envp;
	va_list ap;
	va_start(ap, arg);
	if (argc > 0)
		argv[0] = (char *)arg;
	for (ptrdiff_t i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	if (argc > 0)
		(void)va_arg(ap, char *); /* the NULL ending argv */
	envp = va_arg(ap, char **);
	va_end(ap);
	argv[argc] = NULL;
	return rampart_execve(path, argv, envp);
}

/* glibc's syscall() always reads six arguments. */
EXPORT long syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
	long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
	va_end(ap);
	return rampart_syscall(n, a1, a2, a3, a4, a5, a6);
}
