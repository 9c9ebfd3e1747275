/* sends OP PORT... : each way a program can send to an address without
 * connect, one line per operation: "OP PORT: ok N" (N: bytes or messages
 * sent) or "OP PORT: ERRNO-NAME". All to 127.0.0.1.
 *
 *   sendto PORT      sendto() on an unbound UDP socket, three datagrams
 *   sendmsg PORT     sendmsg() with msg_name
 *   sendmmsg P1:P2   sendmmsg() of four messages, two to P1 then two to P2,
 *                    called again for what a short count left
 *   raw PORT         syscall(SYS_sendto) directly (no libc wrapper)
 *   fastopen PORT    sendto(MSG_FASTOPEN) on a TCP socket: a connect
 *   unspec PORT      sendto() with sin_family AF_UNSPEC (IPv4 sends it)
 *   v6short PORT     sendto() to [::1]:PORT with the 24-byte address
 *                    length of RFC 2133 (no scope id)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

static struct sockaddr_in to(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static const char *ename(int e) {
    const char *n = strerrorname_np(e);
    return n ? n : "?";
}

static void result(const char *op, const char *arg, long r, int err) {
    if (r >= 0)
        printf("%s %s: ok %ld\n", op, arg, r);
    else
        printf("%s %s: %s\n", op, arg, ename(err));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *op = argv[i], *arg = argv[i + 1];
        int port = atoi(arg);
        struct sockaddr_in a = to(port);
        if (!strcmp(op, "sendto") || !strcmp(op, "raw")) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            long r = 0;
            int err = 0;
            for (int k = 0; k < 3 && r >= 0; k++) {
                r = op[0] == 'r'
                        ? syscall(SYS_sendto, s, "x", 1, 0, (struct sockaddr *)&a, sizeof a)
                        : sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
                err = errno;
            }
            result(op, arg, r, err);
            close(s);
        } else if (!strcmp(op, "sendmsg")) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            struct iovec v = {"x", 1};
            struct msghdr m = {0};
            m.msg_name = &a;
            m.msg_namelen = sizeof a;
            m.msg_iov = &v;
            m.msg_iovlen = 1;
            long r = sendmsg(s, &m, 0);
            result(op, arg, r, errno);
            close(s);
        } else if (!strcmp(op, "sendmmsg")) {
            const char *colon = strchr(arg, ':');
            struct sockaddr_in b = to(colon ? atoi(colon + 1) : port);
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            struct iovec v = {"x", 1};
            struct mmsghdr mm[4];
            memset(mm, 0, sizeof mm);
            for (int k = 0; k < 4; k++) {
                mm[k].msg_hdr.msg_name = k < 2 ? &a : &b;
                mm[k].msg_hdr.msg_namelen = sizeof a;
                mm[k].msg_hdr.msg_iov = &v;
                mm[k].msg_hdr.msg_iovlen = 1;
            }
            int sent = 0, calls = 0, r = 0, err = 0;
            while (sent < 4 && calls < 8) {
                r = sendmmsg(s, mm + sent, 4 - sent, 0);
                err = errno;
                calls++;
                if (r <= 0)
                    break;
                sent += r;
            }
            if (r < 0 && sent == 0)
                result(op, arg, -1, err);
            else if (r < 0)
                printf("%s %s: ok %d then %s\n", op, arg, sent, ename(err));
            else
                result(op, arg, sent, 0);
            close(s);
        } else if (!strcmp(op, "unspec")) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            struct sockaddr_in u = a;
            u.sin_family = AF_UNSPEC;
            long r = sendto(s, "x", 1, 0, (struct sockaddr *)&u, sizeof u);
            result(op, arg, r, errno);
            close(s);
        } else if (!strcmp(op, "v6short")) {
            int s = socket(AF_INET6, SOCK_DGRAM, 0);
            struct sockaddr_in6 b6;
            memset(&b6, 0, sizeof b6);
            b6.sin6_family = AF_INET6;
            b6.sin6_port = htons((unsigned short)port);
            b6.sin6_addr = in6addr_loopback;
            long r = sendto(s, "x", 1, 0, (struct sockaddr *)&b6, 24);
            result(op, arg, r, errno);
            close(s);
        } else if (!strcmp(op, "fastopen")) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            long r = sendto(s, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof a);
            result(op, arg, r, errno);
            close(s);
        } else {
            fprintf(stderr, "sends: unknown operation %s\n", op);
            return 2;
        }
    }
    return 0;
}
