#!/usr/bin/python3
"""mdnsannounce: announce one _ewelink._tcp instance over real multicast mDNS, as a
Sonoff would, and say goodbye (TTL 0, RFC 6762 §10.1) on SIGTERM. For the discovery
tests of tests/avahi (issue 11 §1): the LAN-mode device (TXT encrypt=true, iv=...) that
tests/diysim does not model, and a clean goodbye without a whole flash.

  mdnsannounce.py --bind IP --id ID [--txt KEY=VALUE]... [--port N] [--timeout S]
                  [--then-txt KEY=VALUE]...

Two unsolicited announcements one second apart (§8.3): PTR _ewelink._tcp.local ->
eWeLink_<id>._ewelink._tcp.local, SRV -> eWeLink_<id>.local:port, TXT, A. Prints
"announced" after the first. With --then-txt, 3 s after the start the record is announced
again with that TXT instead (a state change, seq+1), and "changed" is printed. Standard library only."""
import argparse
import signal
import socket
import struct
import sys
import time

MDNS = ("224.0.0.251", 5353)
TTL = 120


def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        b = label.encode()
        out += bytes([len(b)]) + b
    return out + b"\0"


def rr(n, rtype, rdata, ttl, flush=True):
    cls = 1 | (0x8000 if flush else 0)
    return name(n) + struct.pack("!HHIH", rtype, cls, ttl, len(rdata)) + rdata


def packet(a, ttl, txt_list=None):
    inst = "eWeLink_%s._ewelink._tcp.local" % a.id
    host = "eWeLink_%s.local" % a.id
    txt_list = a.txt if txt_list is None else txt_list
    txt = b"".join(bytes([len(s)]) + s for s in (t.encode() for t in txt_list))
    rrs = [
        rr("_ewelink._tcp.local", 12, name(inst), ttl, flush=False),
        rr(inst, 33, struct.pack("!HHH", 0, 0, a.port) + name(host), ttl),
        rr(inst, 16, txt, ttl),
        rr(host, 1, socket.inet_aton(a.bind), ttl),
    ]
    return struct.pack("!HHHHHH", 0, 0x8400, 0, len(rrs), 0, 0) + b"".join(rrs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--txt", action="append", default=[])
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--then-txt", action="append", default=[])
    a = p.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((a.bind, 5353))  # responses come from port 5353 (RFC 6762 §6)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.bind))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    s.sendto(packet(a, TTL), MDNS)
    print("announced", flush=True)
    deadline = time.monotonic() + a.timeout
    second = time.monotonic() + 1
    change = time.monotonic() + 3 if a.then_txt else None
    current = None
    while not stop and time.monotonic() < deadline:
        time.sleep(0.05)
        if second and time.monotonic() >= second:
            s.sendto(packet(a, TTL), MDNS)
            second = None
        if change and time.monotonic() >= change:
            current = a.then_txt
            s.sendto(packet(a, TTL, current), MDNS)
            print("changed", flush=True)
            change = None
    s.sendto(packet(a, 0, current), MDNS)
    print("goodbye", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
