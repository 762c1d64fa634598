/* dhcp-fanout.c -- the forwarding half of a DHCP relay that points at several servers, for
 * scripts/bench/dhcp-pair.sh: every datagram received on LISTEN:67 is sent, unchanged but for
 * hops + 1, to port 67 of every SERVER, as dhcrelay does with a request that already carries a
 * giaddr (the load generator plays the first relay and sets giaddr to its own address, so the
 * servers' replies go straight back to it, not through here).
 *
 * One thread, one socket, recvmmsg/sendmmsg batches, so it forwards far faster than the
 * servers answer. Bounded by SECONDS (<= 600); then it prints one line:
 *   received= sent= send_errors= seconds=
 *
 *   dhcp-fanout LISTEN SECONDS SERVER [SERVER ...]      (at most 4 servers)
 * Build: cc -O2 -o dhcp-fanout dhcp-fanout.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define B 64
#define MAXS 4
#define LEN 1500

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv)
{
    if (argc < 4 || argc - 3 > MAXS) { fprintf(stderr, "usage: %s LISTEN SECONDS SERVER [SERVER ...] (max %d)\n", argv[0], MAXS); return 2; }
    double secs = atof(argv[2]);
    if (secs <= 0 || secs > 600) { fprintf(stderr, "SECONDS must be in (0, 600]\n"); return 2; }
    int nsrv = argc - 3;
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(67) }, srv[MAXS];
    if (inet_pton(AF_INET, argv[1], &me.sin_addr) != 1) { fprintf(stderr, "bad LISTEN %s\n", argv[1]); return 2; }
    for (int s = 0; s < nsrv; s++) {
        srv[s] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(67) };
        if (inet_pton(AF_INET, argv[3 + s], &srv[s].sin_addr) != 1) { fprintf(stderr, "bad SERVER %s\n", argv[3 + s]); return 2; }
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 4 << 20, one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) < 0) { perror("bind LISTEN:67"); return 1; }

    static unsigned char buf[B][LEN];
    struct iovec riov[B], siov[B * MAXS];
    struct mmsghdr rm[B], sm[B * MAXS];
    unsigned long received = 0, sent = 0, errors = 0;
    double t0 = now(), end = t0 + secs;
    for (;;) {
        double left = end - now();
        if (left <= 0) break;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
        for (int i = 0; i < B; i++) {
            riov[i] = (struct iovec){ buf[i], LEN };
            rm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &riov[i], .msg_iovlen = 1 } };
        }
        int n = recvmmsg(fd, rm, B, MSG_DONTWAIT, NULL);
        if (n <= 0) continue;
        received += (unsigned long)n;
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (rm[i].msg_len < 240) continue;                 /* not a BOOTP message */
            buf[i][3]++;                                       /* hops */
            for (int s = 0; s < nsrv; s++, k++) {
                siov[k] = (struct iovec){ buf[i], rm[i].msg_len };
                sm[k] = (struct mmsghdr){ .msg_hdr = { .msg_name = &srv[s], .msg_namelen = sizeof srv[s],
                                                      .msg_iov = &siov[k], .msg_iovlen = 1 } };
            }
        }
        for (int off = 0; off < k;) {
            int r = sendmmsg(fd, sm + off, (unsigned)(k - off), 0);
            if (r <= 0) { errors += (unsigned long)(k - off); break; }
            sent += (unsigned long)r; off += r;
        }
    }
    printf("received=%lu sent=%lu send_errors=%lu seconds=%.2f\n", received, sent, errors, now() - t0);
    return 0;
}
