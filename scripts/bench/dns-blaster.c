/* dns-blaster.c -- light UDP DNS load generator for scripts/bench/dns-peers.sh.
 *
 * Shows whether dnsperf or the server is the ceiling: one thread, one connected
 * socket, queries pre-encoded from a dnsperf-style file ("name [TYPE]" lines),
 * sent with sendmmsg in batches while at most WINDOW are outstanding, answers
 * read with recvmmsg. An answer counts only if QR is set and its ID is one we
 * have outstanding (a bitmap of the 65536 IDs); rcodes are tallied. If nothing
 * arrives for 200 ms while the window is full, the outstanding queries are
 * written off as lost and the window reopens. Bounded by SECONDS (<= 600) and
 * MAXQ queries; after the send phase, answers are drained for 200 ms.
 *
 *   dns-blaster IP PORT QFILE SECONDS [WINDOW [BATCH [MAXQ]]]
 *   defaults: WINDOW 256, BATCH 32, MAXQ 100000000
 * Prints one line:
 *   sent=N received=N lost=N bad=N noerror=N nxdomain=N servfail=N other=N seconds=S qps=Q
 * Build: gcc -O2 -o dns-blaster dns-blaster.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXB 256
#define QMAX 320

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int type_code(const char *s)
{
    static const struct { const char *n; int v; } t[] = {
        {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15},
        {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}, {"HTTPS", 65}, {"ANY", 255}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcasecmp(s, t[i].n)) return t[i].v;
    return 1;
}

/* Encodes a query (RD=1, QDCOUNT=1, ID 0) for name/type; returns its length or 0. */
static size_t encode(unsigned char *out, const char *name, int type)
{
    size_t p = 12;
    memset(out, 0, 12);
    out[2] = 0x01;
    out[5] = 1;
    const char *s = name;
    while (*s && strcmp(s, ".") != 0) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        if (l == 0 || l > 63 || p + l + 1 + 5 > QMAX) return 0;
        out[p++] = (unsigned char)l;
        memcpy(out + p, s, l);
        p += l;
        s = dot ? dot + 1 : s + l;
    }
    out[p++] = 0;
    out[p++] = (unsigned char)(type >> 8);
    out[p++] = (unsigned char)type;
    out[p++] = 0;
    out[p++] = 1; /* class IN */
    return p;
}

static uint8_t pending[65536 / 8];
static int take(uint16_t id)
{
    uint8_t bit = (uint8_t)(1u << (id & 7));
    if (!(pending[id >> 3] & bit)) return 0;
    pending[id >> 3] &= (uint8_t)~bit;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s IP PORT QFILE SECONDS [WINDOW [BATCH [MAXQ]]]\n", argv[0]);
        return 2;
    }
    double secs = atof(argv[4]);
    long window = argc > 5 ? atol(argv[5]) : 256;
    int batch = argc > 6 ? atoi(argv[6]) : 32;
    unsigned long long maxq = argc > 7 ? strtoull(argv[7], NULL, 10) : 100000000ULL;
    if (batch < 1 || batch > MAXB || window < 1 || window > 30000 || secs <= 0 || secs > 600) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }

    FILE *f = fopen(argv[3], "r");
    if (!f) { perror(argv[3]); return 1; }
    size_t nq = 0, cap = 1024;
    unsigned char (*q)[QMAX] = malloc(cap * sizeof *q);
    size_t *ql = malloc(cap * sizeof *ql);
    if (!q || !ql) { perror("malloc"); return 1; }
    char line[512], name[300], type[32];
    while (fgets(line, sizeof line, f)) {
        int k = sscanf(line, "%299s %31s", name, type);
        if (k < 1 || name[0] == '#') continue;
        if (nq == cap) {
            cap *= 2;
            q = realloc(q, cap * sizeof *q);
            ql = realloc(ql, cap * sizeof *ql);
            if (!q || !ql) { perror("realloc"); return 1; }
        }
        ql[nq] = encode(q[nq], name, k == 2 ? type_code(type) : 1);
        if (ql[nq]) nq++;
    }
    fclose(f);
    if (!nq) { fprintf(stderr, "no queries in %s\n", argv[3]); return 1; }

    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) { fprintf(stderr, "bad IPv4 address\n"); return 2; }
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) { fprintf(stderr, "refusing: not a loopback address\n"); return 2; }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int bufsz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("connect"); return 1; }

    static unsigned char sbuf[MAXB][QMAX], rbuf[MAXB][1500];
    static struct iovec siov[MAXB], riov[MAXB];
    static struct mmsghdr sm[MAXB], rm[MAXB];
    for (int i = 0; i < MAXB; i++) {
        siov[i].iov_base = sbuf[i];
        riov[i].iov_base = rbuf[i];
        riov[i].iov_len = sizeof rbuf[i];
        sm[i].msg_hdr = (struct msghdr){ .msg_iov = &siov[i], .msg_iovlen = 1 };
        rm[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 };
    }

    unsigned long long sent = 0, recvd = 0, lost = 0, bad = 0, rc[4] = {0, 0, 0, 0};
    size_t qi = 0;
    uint16_t id = (uint16_t)(getpid() * 7919u);
    double t0 = now(), tend = t0 + secs, last_rx = t0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

#define ACCOUNT(r)                                                                       \
    for (int i_ = 0; i_ < (r); i_++) {                                                   \
        unsigned char *b_ = rbuf[i_];                                                    \
        if (rm[i_].msg_len >= 12 && (b_[2] & 0x80) && take((uint16_t)(b_[0] << 8 | b_[1]))) { \
            recvd++;                                                                     \
            int c_ = b_[3] & 0x0f;                                                       \
            rc[c_ == 0 ? 0 : c_ == 3 ? 1 : c_ == 2 ? 2 : 3]++;                           \
        } else bad++;                                                                    \
    }

    for (;;) {
        double t = now();
        if (t >= tend || sent >= maxq) break;
        long out = (long)(sent - recvd - lost);
        if (out < window) {
            int n = (int)(window - out < batch ? window - out : batch);
            for (int i = 0; i < n; i++) {
                memcpy(sbuf[i], q[qi], ql[qi]);
                sbuf[i][0] = (unsigned char)(id >> 8);
                sbuf[i][1] = (unsigned char)id;
                pending[id >> 3] |= (uint8_t)(1u << (id & 7));
                id++;
                siov[i].iov_len = ql[qi];
                if (++qi == nq) qi = 0;
            }
            int r = sendmmsg(fd, sm, (unsigned)n, 0);
            if (r > 0) sent += (unsigned)r;
            if (r < n) { /* unsent IDs are not pending */
                for (int i = r < 0 ? 0 : r; i < n; i++) take((uint16_t)(sbuf[i][0] << 8 | sbuf[i][1]));
                if (r < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) { perror("sendmmsg"); break; }
            }
        }
        int r = recvmmsg(fd, rm, MAXB, MSG_DONTWAIT, NULL);
        if (r > 0) {
            ACCOUNT(r);
            last_rx = t;
            continue;
        }
        if ((long)(sent - recvd - lost) >= window) {
            if (poll(&pfd, 1, 200) == 0 && now() - last_rx > 0.2) {
                lost = sent - recvd; /* write off the outstanding ones */
                memset(pending, 0, sizeof pending);
                last_rx = now();
            }
        }
    }
    double tsend = now();
    double tdrain = tsend + 0.2;
    while (sent > recvd + lost && now() < tdrain) {
        if (poll(&pfd, 1, 20) > 0) {
            int r = recvmmsg(fd, rm, MAXB, MSG_DONTWAIT, NULL);
            if (r > 0) ACCOUNT(r);
        }
    }
    lost = sent > recvd ? sent - recvd : 0;
    printf("sent=%llu received=%llu lost=%llu bad=%llu noerror=%llu nxdomain=%llu servfail=%llu other=%llu seconds=%.3f qps=%.0f\n",
           sent, recvd, lost, bad, rc[0], rc[1], rc[2], rc[3], now() - t0, (double)recvd / (tsend - t0));
    return 0;
}
