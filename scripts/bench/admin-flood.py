#!/usr/bin/env python3
"""admin-flood.py -- issue 10, defect 2: what a connection flood on the admin port costs.

    scripts/bench/admin-flood.py [RAVENSD]        (default target/debug/ravensd)

Two measurements, each on a fresh ravensd on loopback under `prlimit` (soft = hard):
  trickle  NOFILE=1024 (systemd's default soft limit); 3000 connections to the admin port
           from 50 loopback addresses, each sending a request line and then one header byte
           every 2 s for 24 s. Reports peak RSS, peak open descriptors, connections still
           open at the end, and one forwarded query (dig, a new name each time) every 2 s
           to a UDP responder in this script.
  emfile   NOFILE=24, udp_sockets = 1: 40 idle connections to each of the DNS TCP and admin
           ports exhaust the descriptors, so accept fails with EMFILE; reports the daemon's
           CPU use (utime + stime from /proc) over the next 5 s.
Traffic stays on 127.0.0.0/8; every loop is bounded. Needs python3, prlimit and dig.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time


def responder():
    """A UDP DNS server answering every query with A 192.0.2.1; returns its port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def serve():
        while True:
            q, a = s.recvfrom(4096)
            i = 12
            while q[i] != 0:
                i += q[i] + 1
            head = q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
            ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01"
            s.sendto(head + q[12 : i + 5] + ans, a)

    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


class Daemon:
    def __init__(self, binary, nofile, upstream, extra=""):
        self.dir = tempfile.mkdtemp(prefix="admin-flood.")
        cfg = os.path.join(self.dir, "ravens.toml")
        with open(cfg, "w") as f:
            f.write(
                f'[node]\nname = "bench"\ndata_dir = "{self.dir}/data"\n'
                'dns_listen = ["127.0.0.1:0"]\nadmin_listen = "127.0.0.1:0"\n\n'
                f'[dns]\nupstreams = ["udp://127.0.0.1:{upstream}"]\n{extra}\n'
            )
        self.log = os.path.join(self.dir, "log")
        self.proc = subprocess.Popen(
            ["prlimit", f"--nofile={nofile}:{nofile}", "--", binary, "-c", cfg],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "w"),
        )
        for _ in range(100):
            text = open(self.log).read()
            if " ready" in text:
                break
            time.sleep(0.1)
        self.dns = self.addr(r"listening for UDP on (\S+)")
        self.admin = self.addr(r"admin API on http://(\S+)")

    def addr(self, pattern):
        h, p = re.search(pattern, open(self.log).read()).group(1).rsplit(":", 1)
        return (h, int(p))

    def rss_mb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def cpu_secs(self):
        f = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def dig(self, i):
        out = subprocess.run(
            ["dig", f"@{self.dns[0]}", "-p", str(self.dns[1]), "+tries=1", "+time=3", f"h{i:05d}.bench.", "A"],
            capture_output=True,
            text=True,
        ).stdout
        m = re.search(r"status: (\w+)", out)
        return m.group(1) if m else "TIMEOUT"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def connect(src, dst, timeout=0.2):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    try:
        s.connect(dst)
        return s
    except OSError:
        s.close()
        return None


def trickle(binary, upstream):
    d = Daemon(binary, 1024, upstream)
    rss0 = d.rss_mb()
    conns = []
    for i in range(3000):
        s = connect(f"127.0.4.{i % 50 + 1}", d.admin)
        if s:
            try:
                s.send(b"GET /metrics HTTP/1.1\r\n")
                conns.append(s)
            except OSError:
                s.close()
    peak_rss, peak_fds, answers = 0, 0, []
    for t in range(12):
        for s in conns:
            try:
                s.send(b"X")
            except OSError:
                pass
        peak_rss, peak_fds = max(peak_rss, d.rss_mb()), max(peak_fds, d.fds())
        answers.append(d.dig(t))
        time.sleep(2)
    still_open = 0
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1):
                pass
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        s.close()
    time.sleep(3)
    ok = answers.count("NOERROR")
    print(
        f"trickle: {len(conns)} connections opened; RSS {rss0} -> peak {peak_rss} MB (after close {d.rss_mb()} MB); "
        f"peak fds {peak_fds}/1024; still open after 24 s: {still_open}; forwarded queries answered {ok}/{len(answers)} "
        f"({', '.join(sorted(set(answers)))})"
    )
    d.stop()


def emfile(binary, upstream):
    d = Daemon(binary, 24, upstream, "udp_sockets = 1")
    held = [s for i in range(40) for dst in (d.dns, d.admin) if (s := connect(f"127.0.2.{i + 1}", dst, 2))]
    time.sleep(1)
    c0, t0 = d.cpu_secs(), time.time()
    time.sleep(5)
    c1, t1 = d.cpu_secs(), time.time()
    warned = open(d.log).read().count("Too many open files")
    print(f"emfile: {len(held)} connections held; daemon CPU while out of descriptors: {(c1 - c0) / (t1 - t0):.2f} cores; "
          f"log lines naming EMFILE: {warned}")
    for s in held:
        s.close()
    d.stop()


if __name__ == "__main__":
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ravensd"
    port = responder()
    print(f"ravensd: {binary}")
    trickle(binary, port)
    emfile(binary, port)
