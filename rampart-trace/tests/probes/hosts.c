// Resolves the name argv[1] the way a static resolver does: reads
// /etc/hosts itself and takes the first IPv4 line naming it; then connects
// over TCP to that address at port argv[2]. Exit 2: name not found.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3)
        return 1;
    FILE *f = fopen("/etc/hosts", "r");
    if (!f)
        return 2;
    char line[1024];
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *save, *addr = strtok_r(line, " \t\n", &save);
        if (!addr || inet_pton(AF_INET, addr, &peer.sin_addr) != 1)
            continue;
        for (char *w; (w = strtok_r(NULL, " \t\n", &save));)
            if (strcmp(w, argv[1]) == 0)
                found = 1;
    }
    fclose(f);
    if (!found)
        return 2;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    return connect(c, (struct sockaddr *)&peer, sizeof peer) == 0 ? 0 : 3;
}
