// Resolves "rampart.test" by asking the DNS server at 127.0.0.1:53 itself
// (as a resolver library does: sendto, then recvfrom with the sender's
// address), then connects over TCP to the first A record at port argv[1].
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    unsigned char q[512] = {0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    int n = 12;
    const char *labels[] = {"rampart", "test"};
    for (int i = 0; i < 2; i++) {
        q[n++] = strlen(labels[i]);
        memcpy(q + n, labels[i], strlen(labels[i]));
        n += strlen(labels[i]);
    }
    q[n++] = 0;
    q[n++] = 0; q[n++] = 1; q[n++] = 0; q[n++] = 1; // A, IN
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ns = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, "127.0.0.1", &ns.sin_addr);
    sendto(s, q, n, 0, (struct sockaddr *)&ns, sizeof ns);
    unsigned char a[512];
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    int got = recvfrom(s, a, sizeof a, 0, (struct sockaddr *)&from, &fromlen);
    if (got < n + 16) return 2;
    // The answer's RDATA: the last 4 bytes of a single-A-record response.
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    memcpy(&peer.sin_addr, a + got - 4, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    return connect(c, (struct sockaddr *)&peer, sizeof peer) == 0 ? 0 : 3;
}
