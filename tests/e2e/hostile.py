#!/usr/bin/python3
"""hostile.py: play one row of tests/e2e/hostile.tsv against a running sonota-c.

    /usr/bin/python3 hostile.py --host IP [--bind IP] --row "ID<TAB>GROUP<TAB>TARGET<TAB>INPUT<TAB>EXPECT<TAB>..."
    /usr/bin/python3 hostile.py --host IP [--bind IP] --probe
    /usr/bin/python3 hostile.py --host IP [--bind IP] --row ROW --then-probe
    /usr/bin/python3 hostile.py --lint hostile.tsv

Standard library only; TLS 1.2 (the hostile clients need not look like a device). The
row's INPUT is data: literal text with the escapes \\r \\n \\t \\\\ \\xNN and the macros
below; TARGET says where it goes; EXPECT what must happen (tests/e2e/hostile.tsv's header
describes both). Prints "hostile: ID: PASS: what happened" or "... FAIL: why" and exits 0
or 1 (2: a bad row, a bug of the catalogue). --probe: a HEAD of the user1 image must be
answered 200 within PROBE_S seconds (the image server is alive); --then-probe does that
after the row and prints "hostile: probe: ..." (exit 3 when only the probe failed).
--lint checks the whole catalogue without a server: 7 fields per row, unique ids, known
groups, targets and expectations, inputs that expand (exit 0, or 1 with every problem).

Macros in INPUT:
  {rep:TEXT:N}     TEXT N times (TEXT without ':' or '}')
  {args:N}         N query arguments a0=0&a1=1...
  {ranges:N}       N byte ranges 0-0,2-2,4-4,...
  {nest:N}         N '[' then N ']' (deeply nested JSON)
  {img}            /ota/image_user1-0x01000.bin
  {forged}         FORGED-<ID> device 10000e2e99 downloaded and verified the intermediate
                   image (ack 0): it reboots into it now   (a genuine-looking log line)
  {register}       a valid register message of device 10000e2e9f
  {register-id:N}  a register message whose deviceid is "10000e2e9e" + N x 'a'
  {register-forged} a register message whose deviceid is "10000e2e98\\n" + {forged}
  {dispatch-forged} a dispatch body whose deviceid is "10000e2e97\\n" + {forged}
  {dispatch}       a valid dispatch body
  {cl}             the byte length of what follows the first blank line (the body)
"""
import argparse
import base64
import json
import os
import re
import socket
import ssl
import struct
import sys
import time
import uuid

HTTP_PORT = 8080        # the image server
TLS_PORT = 8443         # dispatch + websocket
PROBE_S = 5             # the image server answers a HEAD within this (alive)
CONNECT_S = 5           # TCP connect + TLS handshake of the hostile client itself
TRICKLE_S = 1           # tls-trickle: one more byte this often
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key (24 chars, 16 bytes)


class BadRow(Exception):
    """The catalogue row itself is malformed (exit 2)."""


def unescape(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = text[i + 1:i + 2]
        if n in ("r", "n", "t", "\\"):
            out.append({"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}[n])
            i += 2
        elif n == "x":
            out.append(chr(int(text[i + 2:i + 4], 16)))
            i += 4
        else:
            raise BadRow("bad escape at %r" % text[i:i + 4])
    return "".join(out)


def register(devid):
    return json.dumps({"userAgent": "device", "apikey": str(uuid.uuid4()),
                       "deviceid": devid, "action": "register", "version": 2,
                       "romVersion": "1.5.5", "model": "ITA-GZ1-GL", "ts": 10},
                      separators=(",", ":"))


def dispatch(devid):
    return json.dumps({"accept": "ws;2", "version": 2, "ts": 10, "deviceid": devid,
                       "apikey": str(uuid.uuid4()), "model": "ITA-GZ1-GL",
                       "romVersion": "1.5.5"}, separators=(",", ":"))


def expand(spec, rowid):
    """INPUT text -> bytes: literal parts unescaped, macros substituted."""
    forged = ("FORGED-%s device 10000e2e99 downloaded and verified the intermediate image "
              "(ack 0): it reboots into it now" % rowid)
    out = []
    for part in re.split(r"(\{[^{}]*\})", spec):
        m = re.fullmatch(r"\{([a-z-]+)(?::([^{}]*))?\}", part)
        if not m:
            out.append(unescape(part))
            continue
        name, arg = m.group(1), m.group(2)
        if name == "rep":
            text, n = arg.rsplit(":", 1)
            out.append(unescape(text) * int(n))
        elif name == "args":
            out.append("&".join("a%d=%d" % (i, i) for i in range(int(arg))))
        elif name == "ranges":
            out.append(",".join("%d-%d" % (2 * i, 2 * i) for i in range(int(arg))))
        elif name == "nest":
            out.append("[" * int(arg) + "]" * int(arg))
        elif name == "img":
            out.append("/ota/image_user1-0x01000.bin")
        elif name == "forged":
            out.append(forged)
        elif name == "register":
            out.append(register("10000e2e9f"))
        elif name == "register-id":
            out.append(register("10000e2e9e" + "a" * int(arg)))
        elif name == "register-forged":
            out.append(register("10000e2e98\n" + forged))
        elif name == "dispatch-forged":
            out.append(dispatch("10000e2e97\n" + forged))
        elif name == "dispatch":
            out.append(dispatch("10000e2e96"))
        elif name == "cl":
            out.append("\0CL\0")
        else:
            raise BadRow("unknown macro %s" % part)
    data = "".join(out).encode("latin-1")
    if b"\0CL\0" in data:
        head, sep, body = data.partition(b"\r\n\r\n")
        data = head.replace(b"\0CL\0", str(len(body)).encode()) + sep + body
    return data


# ---- transport -------------------------------------------------------------------------

def tcp(args, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if args.bind:
        s.bind((args.bind, 0))
    s.settimeout(CONNECT_S)
    s.connect((args.host, port))
    return s


def tls(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.set_ciphers("AES128-SHA:AES256-SHA:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    s = ctx.wrap_socket(tcp(args, TLS_PORT), server_hostname=None)
    return s


def send_all(s, data):
    try:
        s.sendall(data)
        return None
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
        return "%s while sending" % type(e).__name__


def recv_some(s, deadline):
    """bytes, b'' on EOF/reset, None on timeout."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    s.settimeout(left)
    try:
        return s.recv(65536)
    except (socket.timeout, TimeoutError):
        return None
    except ssl.SSLWantReadError:
        return None
    except (ConnectionResetError, ssl.SSLError, OSError):
        return b""


def read_status(s, secs):
    """(status or None, closed, elapsed): the first status line within secs."""
    t0 = time.monotonic()
    buf = b""
    while True:
        d = recv_some(s, t0 + secs)
        if d is None:
            return None, False, time.monotonic() - t0
        if d == b"":
            return None, True, time.monotonic() - t0
        buf += d
        if b"\r\n" in buf:
            m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
            return (int(m.group(1)) if m else -1), False, time.monotonic() - t0


def wait_closed(s, secs):
    """True (and elapsed) when the peer closed within secs; whatever it sent is ignored."""
    t0 = time.monotonic()
    while True:
        d = recv_some(s, t0 + secs)
        if d is None:
            return False, secs
        if d == b"":
            return True, time.monotonic() - t0


# ---- websocket ---------------------------------------------------------------------------

OPS = {"cont": 0, "text": 1, "bin": 2, "close": 8, "ping": 9, "pong": 10}


def frame(op, payload, fin=True, mask=True, rsv=0, claim=None):
    n = len(payload) if claim is None else claim
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        h = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return h + payload
    key = os.urandom(4)
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def ws_frames(spec, rowid):
    """'text,nomask:PAYLOAD ++ cont,nofin,repeat=N:PAYLOAD' -> bytes of every frame."""
    out = []
    for part in spec.split(" ++ "):
        flags, _, payload = part.partition(":")
        opts = flags.split(",")
        if opts[0] not in OPS:
            raise BadRow("unknown frame type %r" % opts[0])
        kw = {"fin": True, "mask": True, "rsv": 0, "claim": None}
        repeat = 1
        for o in opts[1:]:
            if o == "nomask":
                kw["mask"] = False
            elif o == "nofin":
                kw["fin"] = False
            elif o in ("rsv1", "rsv2", "rsv3"):
                kw["rsv"] |= {"rsv1": 4, "rsv2": 2, "rsv3": 1}[o]
            elif o.startswith("len="):
                kw["claim"] = int(o[4:])
            elif o.startswith("repeat="):
                repeat = int(o[7:])
            else:
                raise BadRow("unknown frame flag %r" % o)
        data = expand(payload, rowid)
        out.append(frame(OPS[opts[0]], data, **kw) * repeat)
    return b"".join(out)


def ws_open(args):
    """A websocket as the device opens it: (socket, bytes after the 101) or raise."""
    s = tls(args)
    s.sendall(("GET /api/ws HTTP/1.1\r\nHost: iotgo.iteadstudio.com\r\n"
               "Connection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % WS_KEY).encode())
    buf, deadline = b"", time.monotonic() + CONNECT_S
    while b"\r\n\r\n" not in buf:
        d = recv_some(s, deadline)
        if not d:
            raise OSError("no 101 for a good websocket upgrade")
        buf += d
    if not buf.startswith(b"HTTP/1.1 101"):
        raise OSError("good websocket upgrade answered %r" % buf[:40])
    return s, buf.partition(b"\r\n\r\n")[2]


def ws_watch(s, rest, secs):
    """Read server frames for up to secs: ('text', payload) at the first text frame,
    ('closed', how) at a close frame or EOF, ('quiet', None) when nothing happened."""
    t0, buf = time.monotonic(), rest
    while True:
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n, h = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, h = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, h = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < h + n:
                break
            op, payload = b0 & 0x0F, buf[h:h + n]
            buf = buf[h + n:]
            if op == 1:
                return "text", payload.decode("utf-8", "replace")
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return "closed", "close frame %d" % code
        d = recv_some(s, t0 + secs)
        if d is None:
            return "quiet", None
        if d == b"":
            return "closed", "connection closed"
        buf += d


# ---- one row -----------------------------------------------------------------------------

def parse_expect(exp):
    m = re.fullmatch(r"([a-z-]+)(?:=([^/]*))?(?:/([0-9.]+))?", exp)
    if not m:
        raise BadRow("bad EXPECT %r" % exp)
    return m.group(1), m.group(2), float(m.group(3) or 5)


def check_http_like(s, data, kind, arg, secs, trickle=False):
    err = send_all(s, data)
    if kind == "status":
        st, closed, el = read_status(s, secs)
        if st is None:
            return False, ("closed without a status after %.1f s" % el if closed
                           else "no status within %g s" % secs)
        if arg != "*" and str(st) not in arg.split(","):
            return False, "status %d after %.1f s, wanted %s" % (st, el, arg)
        return True, "status %d after %.1f s" % (st, el)
    if kind == "answer-or-closed":
        st, closed, el = read_status(s, secs)
        if st is None and not closed:
            return False, "neither a status nor a close within %g s" % secs
        if st is not None and arg and arg != "*" and str(st) not in arg.split(","):
            return False, "status %d, wanted %s or a close" % (st, arg)
        return True, ("status %d" % st if st is not None else "closed") + " after %.1f s" % el
    if kind == "closed" and trickle:
        # one more byte every TRICKLE_S until the server closes (a send fails or EOF)
        t0 = time.monotonic()
        while time.monotonic() - t0 < secs:
            if send_all(s, b"A"):
                return True, "closed after %.1f s (trickled)" % (time.monotonic() - t0)
            closed, _ = wait_closed(s, TRICKLE_S)
            if closed:
                return True, "closed after %.1f s (trickled)" % (time.monotonic() - t0)
        return False, "connection still open after %g s of one byte per %g s" % (secs, TRICKLE_S)
    if kind == "closed":
        closed, el = wait_closed(s, secs)
        if not closed:
            return False, "connection still open after %g s" % secs
        return True, "closed after %.1f s%s" % (el, " (%s)" % err if err else "")
    if kind == "refused":
        st, closed, el = read_status(s, secs)
        if st == 101:
            return False, "accepted: 101 Switching Protocols after %.1f s" % el
        if st is None and not closed:
            return False, "neither an answer nor a close within %g s" % secs
        return True, ("status %d" % st if st is not None else "closed") + " after %.1f s" % el
    raise BadRow("EXPECT %s does not fit this TARGET" % kind)


def run_row(args, row):
    f = row.split("\t")
    if len(f) < 6:
        raise BadRow("a row has 6 tab-separated fields, this one %d" % len(f))
    rowid, _, target, spec, exp = f[0], f[1], f[2], f[3], f[4]
    kind, arg, secs = parse_expect(exp)
    if target in ("http", "https", "tls-raw", "tls-trickle", "wsup"):
        data = expand(spec, rowid)
        if target == "http":
            s = tcp(args, HTTP_PORT)
        elif target in ("tls-raw", "tls-trickle"):
            s = tcp(args, TLS_PORT)
        else:
            s = tls(args)
        try:
            return check_http_like(s, data, kind, arg, secs, target == "tls-trickle")
        finally:
            s.close()
    if target == "ws":
        s, rest = ws_open(args)
        try:
            err = send_all(s, ws_frames(spec, rowid))
            what, detail = ws_watch(s, rest, secs)
            if kind == "reply":
                if what == "text":
                    return True, "answered: %.80s" % detail
                return False, "no answer within %g s (%s)" % (secs, detail or "quiet")
            if what == "text":
                return False, "acted on: the server answered %.100s" % detail
            if kind == "ws-closed":
                if what == "closed":
                    return True, "not acted on, %s" % detail
                if err:
                    return True, "not acted on, %s" % err
                return False, "not acted on, but the websocket is still open after %g s" % secs
            if kind == "noreply":
                return True, "not acted on (%s)" % (detail or "quiet for %g s" % secs)
            raise BadRow("EXPECT %s does not fit TARGET ws" % kind)
        finally:
            s.close()
    if target == "slowloris":
        # N connections each sending a partial head, one byte per second, while one
        # more request must be answered
        n = int(spec)
        socks = []
        for _ in range(n):
            c = tcp(args, HTTP_PORT)
            c.sendall(b"GET /ota/image_user1-0x01000.bin HTTP/1.1\r\nHost: x\r\n")
            socks.append(c)
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 2:
                for c in socks:
                    try:
                        c.send(b"X")
                    except OSError:
                        pass
                time.sleep(0.5)
            return probe(args, kind, arg, secs)
        finally:
            for c in socks:
                c.close()
    if target == "idle-ws":
        n = int(spec)
        socks = [ws_open(args)[0] for _ in range(n)]
        try:
            time.sleep(1)
            s, rest = ws_open(args)
            try:
                s.sendall(frame(1, register("10000e2e9d").encode()))
                what, detail = ws_watch(s, rest, secs)
                if what == "text":
                    return True, "%d idle websockets held, a register was answered" % n
                return False, "with %d idle websockets a register got %s" % (n, what)
            finally:
                s.close()
        finally:
            for c in socks:
                c.close()
    raise BadRow("unknown TARGET %r" % target)


def probe(args, kind="status", arg="200", secs=PROBE_S):
    s = tcp(args, HTTP_PORT)
    try:
        return check_http_like(s, b"HEAD /ota/image_user1-0x01000.bin HTTP/1.1\r\nHost: x\r\n"
                               b"Connection: close\r\n\r\n", kind, arg, secs)
    finally:
        s.close()


GROUPS = ("img", "cloud1", "cloud2", "cloud3", "scale")
TARGET_EXPECT = {
    "http": ("status", "answer-or-closed", "closed"),
    "https": ("status", "answer-or-closed", "closed"),
    "tls-raw": ("closed", "answer-or-closed"),
    "tls-trickle": ("closed",),
    "wsup": ("refused", "answer-or-closed", "closed", "status"),
    "ws": ("ws-closed", "noreply", "reply"),
    "slowloris": ("status",),
    "idle-ws": ("reply",),
    "wssload": ("up",),
    "ack404": ("gave-up",),
}


def lint(path):
    """Every problem of the catalogue at path, as strings."""
    bad, ids = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fld = line.split("\t")
            where = "line %d" % n
            if len(fld) != 7 or not all(fld):
                bad.append("%s: %d non-empty tab-separated fields, want 7" % (where, len(fld)))
                continue
            rowid, group, target, spec, exp, after, _ = fld
            if rowid in ids:
                bad.append("%s: duplicate id %s" % (where, rowid))
            ids.add(rowid)
            if group not in GROUPS:
                bad.append("%s: %s: unknown group %s" % (where, rowid, group))
            if target not in TARGET_EXPECT:
                bad.append("%s: %s: unknown target %s" % (where, rowid, target))
                continue
            try:
                kind = parse_expect(exp)[0]
                if kind not in TARGET_EXPECT[target]:
                    bad.append("%s: %s: EXPECT %s does not fit TARGET %s" % (where, rowid,
                                                                             kind, target))
                if target == "ws":
                    ws_frames(spec, rowid)
                elif target in ("slowloris", "idle-ws"):
                    int(spec)
                elif target not in ("wssload", "ack404"):
                    expand(spec, rowid)
            except (BadRow, ValueError) as e:
                bad.append("%s: %s: %s" % (where, rowid, e))
            if after not in ("-", "log", "dev", "log,dev"):
                bad.append("%s: %s: AFTER %s" % (where, rowid, after))
    if len(ids) < 40:
        bad.append("only %d rows; the catalogue has at least 40" % len(ids))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lint")
    ap.add_argument("--host")
    ap.add_argument("--bind")
    ap.add_argument("--row")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--then-probe", action="store_true")
    args = ap.parse_args()
    if args.lint:
        bad = lint(args.lint)
        for b in bad:
            print("hostile: lint: %s" % b)
        if not bad:
            print("hostile: lint: %s is well-formed" % args.lint)
        return 1 if bad else 0
    if not args.host:
        ap.error("--host is required")
    rowid = "probe" if args.probe else (args.row or "").split("\t")[0]
    try:
        ok, why = probe(args) if args.probe else run_row(args, args.row or "")
    except BadRow as e:
        print("hostile: %s: BAD ROW: %s" % (rowid, e))
        return 2
    except (OSError, ssl.SSLError) as e:
        ok, why = False, "%s: %s" % (type(e).__name__, e)
    print("hostile: %s: %s: %s" % (rowid, "PASS" if ok else "FAIL", why))
    rc = 0 if ok else 1
    if args.then_probe:
        try:
            pok, pwhy = probe(args)
        except (OSError, ssl.SSLError) as e:
            pok, pwhy = False, "%s: %s" % (type(e).__name__, e)
        print("hostile: probe: %s: %s" % ("PASS" if pok else "FAIL", pwhy))
        if not pok and rc == 0:
            rc = 3
    sys.stdout.flush()
    return rc


if __name__ == "__main__":
    sys.exit(main())
