/* dhcp-blaster.c -- relayed DHCPv4 DORA load generator for ravens' benchmarks and its
 * crash-safety test (adapted from the shared recipe dhcp-floor-blaster.c).
 *
 * It plays a relay agent, as perfdhcp does when given a unicast server: it binds
 * GIADDR:67, sends DISCOVERs with giaddr=GIADDR to SERVER:67, answers each OFFER with a
 * REQUEST (50 = offered yiaddr, 54 = the OFFER's server-id, same xid and chaddr), and
 * counts an exchange complete on the matching ACK. One thread, one socket,
 * sendmmsg/recvmmsg batches. At most WINDOW exchanges in flight; new DISCOVERs paced at
 * RATE/s (0 = as fast as the window allows). An exchange unanswered after 1 s is lost.
 * Bounded by SECONDS (<= 600). Clients: chaddr 02:xx:xx:xx:xx:5a from a counter modulo
 * NCLIENTS, so each client is used once when NCLIENTS exceeds the exchanges sent.
 *
 *   dhcp-blaster GIADDR SERVER SECONDS [RATE [WINDOW [NCLIENTS [ACKLOG]]]]
 *   defaults: RATE 0, WINDOW 256, NCLIENTS 20000, no ACKLOG
 * ACKLOG: a file that gets one line per ACK received: "MS CHADDR YIADDR", MS = milliseconds
 * since start (the crash test checks every line against the server's leases).
 * Prints one line: discovers= offers= requests= acks= lost= naks= stray= seconds= rate=
 *   avg_dora_ms= avg_ra_ms=   (rate = ACKs/s = completed DORA exchanges/s;
 *   avg_ra_ms = mean REQUEST->ACK delay)
 * Build: cc -O2 -o dhcp-blaster dhcp-blaster.c
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define B 64
#define RING 65536
#define PKT 300
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

/* state 1 = want OFFER, 2 = want ACK; t = DISCOVER sent, tr = REQUEST sent */
struct slot { uint32_t xid; uint8_t state; double t, tr; };
static struct slot ring[RING];
static uint32_t giaddr;                                     /* network order */

static size_t build(unsigned char *b, uint32_t xid, const unsigned char *chaddr, int type, uint32_t reqip, uint32_t sid)
{
    memset(b, 0, PKT);
    b[0] = 1; b[1] = 1; b[2] = 6; b[3] = 1;                /* BOOTREQUEST, ethernet, hops 1 */
    uint32_t x = htonl(xid); memcpy(b + 4, &x, 4);
    memcpy(b + 24, &giaddr, 4);
    memcpy(b + 28, chaddr, 6);
    b[236] = 99; b[237] = 130; b[238] = 83; b[239] = 99;
    unsigned char *o = b + 240;
    *o++ = 53; *o++ = 1; *o++ = (unsigned char)type;
    if (type == 3) {
        *o++ = 50; *o++ = 4; memcpy(o, &reqip, 4); o += 4;
        *o++ = 54; *o++ = 4; memcpy(o, &sid, 4); o += 4;
    }
    *o++ = 55; *o++ = 3; *o++ = 1; *o++ = 3; *o++ = 51;     /* parameter request list */
    *o++ = 255;
    return PKT;
}

static void mac_of(uint32_t client, unsigned char *m)
{
    m[0] = 0x02; m[1] = (unsigned char)(client >> 24); m[2] = (unsigned char)(client >> 16);
    m[3] = (unsigned char)(client >> 8); m[4] = (unsigned char)client; m[5] = 0x5A;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s GIADDR SERVER SECONDS [RATE [WINDOW [NCLIENTS [ACKLOG]]]]\n", argv[0]); return 2; }
    double secs = atof(argv[3]);
    double rate = argc > 4 ? atof(argv[4]) : 0;
    long window = argc > 5 ? atol(argv[5]) : 256;
    uint32_t nclients = argc > 6 ? (uint32_t)atol(argv[6]) : 20000;
    FILE *acklog = NULL;
    if (argc > 7 && !(acklog = fopen(argv[7], "w"))) { perror(argv[7]); return 1; }
    if (secs <= 0 || secs > 600 || rate < 0 || window < 1 || window > RING / 2 || nclients < 1) { fprintf(stderr, "bad args\n"); return 2; }
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(67) }, srv = me;
    if (inet_pton(AF_INET, argv[1], &me.sin_addr) != 1 || inet_pton(AF_INET, argv[2], &srv.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    giaddr = me.sin_addr.s_addr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int one = 1, rb = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rb, sizeof rb);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) { perror("bind"); return 1; }
    if (connect(fd, (struct sockaddr *)&srv, sizeof srv) < 0) { perror("connect"); return 1; }

    static unsigned char sbuf[2 * B][PKT], rbuf[B][1500];
    static struct iovec siov[2 * B], riov[B];
    static struct mmsghdr sm[2 * B], rm[B];
    for (int i = 0; i < B; i++) {
        riov[i].iov_base = rbuf[i]; riov[i].iov_len = sizeof rbuf[i];
        rm[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 };
    }
    for (int i = 0; i < 2 * B; i++) {
        siov[i].iov_base = sbuf[i]; siov[i].iov_len = PKT;
        sm[i].msg_hdr = (struct msghdr){ .msg_iov = &siov[i], .msg_iovlen = 1 };
    }
    unsigned long long disc = 0, offers = 0, reqs = 0, acks = 0, lost = 0, naks = 0, stray = 0;
    double lat_sum = 0, ra_sum = 0;
    uint32_t next_xid = 1, client = 0;
    long inflight = 0;
    double t0 = now(), tend = t0 + secs, next_scan = t0 + 0.25;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (1) {
        double t = now();
        if (t >= tend) break;
        int ns = 0;
        /* receive a batch; OFFER -> queue REQUEST, ACK -> complete */
        int r = recvmmsg(fd, rm, B, MSG_DONTWAIT, NULL);
        for (int i = 0; i < r; i++) {
            unsigned char *p = rbuf[i]; unsigned len = rm[i].msg_len;
            if (len < 243 || p[0] != 2) { stray++; continue; }
            uint32_t xid; memcpy(&xid, p + 4, 4); xid = ntohl(xid);
            struct slot *s = &ring[xid % RING];
            if (s->xid != xid || !s->state) { stray++; continue; }
            int type = 0; uint32_t sid = 0;
            for (unsigned q = 240; q + 1 < len && p[q] != 255; ) {
                if (p[q] == 0) { q++; continue; }
                if (p[q] == 53) type = p[q + 2];
                if (p[q] == 54 && p[q + 1] == 4) memcpy(&sid, p + q + 2, 4);
                q += 2u + p[q + 1];
            }
            if (type == 2 && s->state == 1) {
                uint32_t yi; memcpy(&yi, p + 16, 4);
                build(sbuf[ns], xid, p + 28, 3, yi, sid);
                ns++; offers++; s->state = 2; s->tr = t;
            } else if (type == 5 && s->state == 2) {
                acks++; lat_sum += t - s->t; ra_sum += t - s->tr; s->state = 0; inflight--;
                if (acklog)
                    fprintf(acklog, "%.0f %02x:%02x:%02x:%02x:%02x:%02x %u.%u.%u.%u\n", (t - t0) * 1e3,
                            p[28], p[29], p[30], p[31], p[32], p[33], p[16], p[17], p[18], p[19]);
            } else if (type == 6) {
                naks++; s->state = 0; inflight--;
            } else stray++;
        }
        /* new DISCOVERs: fill the window, paced to RATE if given */
        long allow = window - inflight;
        if (rate > 0) {
            long due = (long)((t - t0) * rate) - (long)disc;
            if (due < allow) allow = due;
        }
        if (allow > B) allow = B;
        for (long k = 0; k < allow && ns < 2 * B; k++) {
            struct slot *s = &ring[next_xid % RING];
            if (s->state) { lost++; inflight--; }          /* ring wrapped onto a stale one */
            s->xid = next_xid; s->state = 1; s->t = t;
            unsigned char mac[6]; mac_of(client, mac);
            build(sbuf[ns++], next_xid++, mac, 1, 0, 0);
            if (++client == nclients) client = 0;
            disc++; inflight++;
        }
        if (ns) {
            int done = 0;
            while (done < ns) {
                int w = sendmmsg(fd, sm + done, (unsigned)(ns - done), 0);
                if (w <= 0) { if (w < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) { perror("sendmmsg"); return 1; } break; }
                done += w;
            }
            for (int i = 0; i < done; i++) if (sbuf[i][242] == 3) reqs++;
        }
        if (t >= next_scan) {                                /* time out exchanges older than 1 s */
            for (int i = 0; i < RING; i++)
                if (ring[i].state && t - ring[i].t > 1.0) { ring[i].state = 0; lost++; inflight--; }
            next_scan = t + 0.25;
        }
        if (r <= 0 && !ns) {                                 /* idle: wait for a reply or the pacer */
            int ms = rate > 0 ? 1 : 10;
            if (inflight < window && rate <= 0) ms = 0;
            poll(&pfd, 1, ms);
        }
    }
    double el = now() - t0;
    if (acklog && fclose(acklog) != 0) { perror("acklog"); return 1; }
    printf("discovers=%llu offers=%llu requests=%llu acks=%llu lost=%llu naks=%llu stray=%llu seconds=%.3f rate=%.0f avg_dora_ms=%.3f avg_ra_ms=%.3f\n",
           disc, offers, reqs, acks, lost, naks, stray, el, acks / el, acks ? 1e3 * lat_sum / acks : 0.0,
           acks ? 1e3 * ra_sum / acks : 0.0);
    return 0;
}
