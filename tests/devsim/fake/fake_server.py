#!/usr/bin/env python3
"""A small SonOTA-like server for devsim's self-tests, with injectable faults.

Python standard library only. It exists to prove that devsim REJECTS what a real device
would reject: every --fault makes one thing deliberately wrong. With --fault none it is
correct, which is the positive control.

Listeners (all on 127.0.0.1, ephemeral ports, printed as one line on stdout):
  tls    dispatch (POST /dispatch/device) + WebSocket (/api/ws), TLS 1.0..1.2, AES-CBC-SHA
  http   stock-firmware downloads: /ota/<file> (Range) and /slowota/<file> (SonOTA pacing)
  final  the FinalStage server E2A talks to (HTTP/1.0, 200 + Content-Length, close)
Output: "PORTS tls=<n> http=<n> final=<n>".
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
import warnings

FAULTS = [
    "none",
    "bad-digest",        # upgrade digest is not the file's SHA-256
    "no-content-length",  # 206 answers without Content-Length (close-delimited)
    "range-200",         # 200 with the whole file although a Range was asked
    "extra-bytes",       # one byte more than Content-Length on the 3rd range answer
    "chunked",           # chunked Transfer-Encoding on range answers
    "wrong-range",       # Content-Range/Content-Length off by one on the 2nd answer
    "wrong-model",       # upgrade params.model differs from the registered model
    "no-model",          # upgrade without params.model (malformed)
    "date-local",        # date one hour off (local time labelled Z, SonOTA bug)
    "dup-seq",           # relay updates share one sequence (SonOTA's 5 toggles)
    "no-pong",           # never answer WebSocket pings
    "masked-frames",     # server frames masked (RFC 6455 violation)
    "final-wrong-magic",  # FinalStage: serve a 0xE9 image where E2A wants 0xEA
    "final-extra",       # FinalStage: bytes beyond Content-Length
    "final-short",       # FinalStage: close after half the body
    "final-no-cl",       # FinalStage: no Content-Length
    "final-stall",       # FinalStage: half the body, then silence (connection kept open)
    "user-qio",          # the E2A user images are QIO (mode byte 0)
    "fast-slowota",      # /slowota/ streams at full speed (no pacing)
    "close-each",        # /ota/ closes after every 206 (no Connection: close header)
    "no-upgrade",        # never sends the upgrade command
    "tls12-gcm-only",    # TLS 1.2 with ECDHE-GCM suites only (what a modern default offers)
    "ws-fragmented",     # every server message in 3 fragments, a ping in between (valid)
    "ws-oversized",      # a 5000-byte text message
    "ws-binary",         # the upgrade in a binary frame
    "ws-close-first",    # first WebSocket: close frame instead of the upgrade (valid)
    "busy-ws",           # during the download: a relay update and a ping on the WebSocket
]

IMAGES = ["image_user1-0x01000.bin", "image_user2-0x81000.bin", "image_arduino.bin"]
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


_log_lock = threading.Lock()


def log(*a):
    # One write per line under a lock: print() writes its pieces separately, so lines
    # from the server's threads mixed ("fake:fake:  ...") and the runner missed them.
    line = "fake: " + " ".join(str(x) for x in a) + "\n"
    with _log_lock:
        sys.stderr.write(line)
        sys.stderr.flush()


class State:
    def __init__(self, args):
        self.args = args
        self.fault = args.fault
        self.files = {}
        for name in IMAGES:
            with open(os.path.join(args.dir, name), "rb") as f:
                data = f.read()
            if self.fault == "user-qio" and name != "image_arduino.bin":
                data = data[:2] + b"\x00" + data[3:]
            self.files[name] = data
        self.slow = False           # SonOTA: global flag set by an ack 404
        self.ws_sessions = 0
        self.current = None         # (WsConn, apikey, deviceid) of the latest session
        self.busy_done = False
        self.lock = threading.Lock()
        self.last_seq = 0
        self.ports = {}

    def next_seq(self):
        with self.lock:
            now = int(time.time() * 1000)
            self.last_seq = max(self.last_seq + 1, now)
            return str(self.last_seq)


def read_head(sock, buf=b""):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            return None, buf
        buf += chunk
        if len(buf) > 65536:
            return None, buf
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return (method, path, version, headers), rest


# ---- WebSocket (server side) -------------------------------------------------

def ws_frame(op, payload, masked=False):
    b0 = 0x80 | op
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, n | (0x80 if masked else 0))
    else:
        hdr = struct.pack("!BBH", b0, 126 | (0x80 if masked else 0), n)
    if masked:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        hdr += key
    return hdr + payload


class WsConn:
    def __init__(self, sock, rest, st):
        self.sock = sock
        self.buf = rest
        self.st = st
        self.lock = threading.Lock()

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self):
        self.need(2)
        b0, b1 = self.buf[0], self.buf[1]
        op = b0 & 0x0F
        n = b1 & 0x7F
        h = 2
        if n == 126:
            self.need(4)
            n = struct.unpack("!H", self.buf[2:4])[0]
            h = 4
        elif n == 127:
            self.need(10)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            h = 10
        if not b1 & 0x80:
            raise ValueError("unmasked client frame")
        self.need(h + 4 + n)
        key = self.buf[h:h + 4]
        data = bytes(b ^ key[i % 4] for i, b in enumerate(self.buf[h + 4:h + 4 + n]))
        self.buf = self.buf[h + 4 + n:]
        return op, data

    def send(self, op, payload):
        with self.lock:
            self.sock.sendall(ws_frame(op, payload, self.st.fault == "masked-frames"))

    def send_json(self, obj, op=1):
        s = json.dumps(obj, separators=(",", ":"))
        log(">>", s[:200])
        if self.st.fault == "ws-fragmented":
            # RFC 6455 fragmentation with a control frame interleaved (valid)
            b = s.encode()
            parts = [b[:len(b) // 3], b[len(b) // 3:2 * len(b) // 3], b[2 * len(b) // 3:]]
            with self.lock:
                self.sock.sendall(struct.pack("!BB", 0x01, len(parts[0])) + parts[0]
                                  if len(parts[0]) < 126 else
                                  struct.pack("!BBH", 0x01, 126, len(parts[0])) + parts[0])
                self.sock.sendall(ws_frame(9, b"frag"))
                for i, p in enumerate(parts[1:]):
                    b0 = 0x80 if i == 1 else 0x00
                    hdr = (struct.pack("!BB", b0, len(p)) if len(p) < 126 else
                           struct.pack("!BBH", b0, 126, len(p)))
                    self.sock.sendall(hdr + p)
            return
        self.send(op, s.encode())


def utc_date(fault):
    now = datetime.datetime.now(datetime.timezone.utc)
    if fault == "date-local":
        now -= datetime.timedelta(hours=1)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def upgrade_msg(st, msg, key, model):
    base = "http://127.0.0.1:%d/%s/" % (st.ports["http"], "slowota" if st.slow else "ota")
    entries = []
    for name, fname in (("user1.bin", IMAGES[0]), ("user2.bin", IMAGES[1])):
        digest = hashlib.sha256(st.files[fname]).hexdigest()
        if st.fault == "bad-digest":
            digest = hashlib.sha256(b"not the image").hexdigest()
        entries.append({"downloadUrl": base + fname, "digest": digest, "name": name})
    params = {"binList": entries, "model": model, "version": "23.42.5"}
    if st.fault == "wrong-model":
        params["model"] = "PSB-B04-GL" if model != "PSB-B04-GL" else "ITA-GZ1-GL"
    if st.fault == "no-model":
        del params["model"]
    return {"action": "upgrade", "deviceid": msg["deviceid"], "apikey": key,
            "userAgent": "app", "sequence": st.next_seq(), "ts": 0, "params": params}


def ws_session(sock, rest, st):
    ws = WsConn(sock, rest, st)
    key = str(uuid.uuid4())
    model = "ITA-GZ1-GL"
    upgrade_seq = None
    with st.lock:
        st.ws_sessions += 1
        first_session = st.ws_sessions == 1
    ping_sent = None
    while True:
        try:
            op, data = ws.recv()
        except (EOFError, OSError, ValueError) as e:
            log("ws closed:", e)
            return
        if op == 9:
            if st.fault != "no-pong":
                ws.send(10, data)
            continue
        if op == 10:
            log("pong ok" if data == ping_sent else
                "pong ok (fragment ping)" if data == b"frag" else "pong WRONG %r" % data)
            continue
        if op == 8:
            try:
                ws.send(8, data[:2])
            except OSError:
                pass
            return
        if op != 1:
            continue
        msg = json.loads(data)
        log("<<", json.dumps(msg)[:200])
        action = msg.get("action")
        dev = msg.get("deviceid")
        if action == "register":
            model = msg.get("model", model)
            ws.send_json({"error": 0, "deviceid": dev, "apikey": key,
                          "config": {"hb": 1, "hbInterval": 145}})
            ping_sent = b"srv-ping"
            ws.send(9, ping_sent)      # like third-party servers (§3.2)
            if st.fault == "ws-oversized":
                ws.send_json({"action": "update", "deviceid": dev, "apikey": key,
                              "userAgent": "app", "sequence": st.next_seq(), "ts": 0,
                              "params": {"switch": "on", "pad": "x" * 5000}})
        elif action == "date":
            ws.send_json({"error": 0, "deviceid": dev, "apikey": key,
                          "date": utc_date(st.fault)})
        elif action == "update":
            ws.send_json({"error": 0, "deviceid": dev, "apikey": key})
            seq = st.next_seq()
            for sw in ("on", "off"):
                if st.fault != "dup-seq":
                    seq = st.next_seq()
                ws.send_json({"action": "update", "deviceid": dev, "apikey": key,
                              "userAgent": "app", "sequence": seq, "ts": 0,
                              "params": {"switch": sw}, "from": "app"})
            st.current = (ws, key, dev)
            if st.fault == "no-upgrade" or (st.fault == "ws-close-first" and first_session):
                continue
            up = upgrade_msg(st, msg, key, model)
            upgrade_seq = up["sequence"]
            ws.send_json(up, 2 if st.fault == "ws-binary" else 1)
        elif action == "query":
            ws.send_json({"error": 0, "deviceid": dev, "apikey": key, "params": 0})
            if st.fault == "ws-close-first" and first_session:
                ws.send(8, struct.pack("!H", 1000))
        elif action is None and "sequence" in msg:
            log("ack error %s for sequence %s" % (msg.get("error"), msg["sequence"]))
            if msg["sequence"] == upgrade_seq:
                log("upgrade ack error", msg.get("error"))
                if msg.get("error") == 404:
                    st.slow = True


def tls_conn(sock, st):
    try:
        req, rest = read_head(sock)
        if req is None:
            return
        method, path, version, headers = req
        log("tls:", method, path)
        if method == "POST" and path == "/dispatch/device":
            n = int(headers.get("content-length", "0"))
            while len(rest) < n:
                rest += sock.recv(4096)
            body = json.dumps({"error": 0, "reason": "ok", "IP": "127.0.0.1",
                               "port": st.ports["tls"]}).encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
        elif method == "GET" and path == "/api/ws":
            k = headers.get("sec-websocket-key", "")
            acc = base64.b64encode(hashlib.sha1((k + WS_GUID).encode()).digest()).decode()
            sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                          % acc).encode())
            ws_session(sock, rest, st)
        else:
            sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    except (OSError, ssl.SSLError, ValueError) as e:
        log("tls conn error:", e)
    finally:
        try:
            sock.close()
        except OSError:
            pass


def serve_tls(lsock, ctx, st):
    while True:
        c, peer = lsock.accept()
        log("tls: connection from", peer[0])

        def run(c=c):
            try:
                c.settimeout(60)
                t = ctx.wrap_socket(c, server_side=True)
                log("tls:", t.version(), t.cipher()[0])
            except (OSError, ssl.SSLError) as e:
                log("tls handshake failed:", e)
                c.close()
                return
            tls_conn(t, st)
        threading.Thread(target=run, daemon=True).start()


# ---- image server for the stock firmware ------------------------------------

def ota_conn(sock, st):
    rest = b""
    answers = 0
    try:
        while True:
            req, rest = read_head(sock, rest)
            if req is None:
                return
            method, path, version, headers = req
            route, _, fname = path.split("?")[0].lstrip("/").partition("/")
            data = st.files.get(fname)
            rng = headers.get("range")
            log("http:", method, path.split("?")[0], rng or "(no range)")
            if data is None or route not in ("ota", "slowota"):
                sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                continue
            if route == "slowota":
                # SonOTA's SlowOTAUpdate: ignores Range, 200, empty Transfer-Encoding,
                # 10 bytes, 0.9 s, then 1400 bytes every 0.3 s (PROTOCOL §3.6)
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                             b"Transfer-Encoding: \r\nAccept-Ranges: bytes\r\n"
                             b"Content-Type: application/octet-stream\r\n\r\n" % len(data))
                if st.fault == "fast-slowota":
                    sock.sendall(data)
                    continue
                sock.sendall(data[:10])
                time.sleep(0.9)
                pos = 10
                while pos < len(data):
                    sock.sendall(data[pos:pos + 1400])
                    pos += 1400
                    time.sleep(0.3)
                continue
            answers += 1
            if st.fault == "busy-ws" and not st.busy_done and st.current:
                st.busy_done = True
                ws, key, dev = st.current
                seq = st.next_seq()
                log("busy-ws: relay update %s during the download" % seq)
                ws.send_json({"action": "update", "deviceid": dev, "apikey": key,
                              "userAgent": "app", "sequence": seq, "ts": 0,
                              "params": {"switch": "on"}, "from": "app"})
                ws.send(9, b"srv-ping")
                time.sleep(0.3)        # the device must service the WebSocket meanwhile
            if rng is None:
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data)
                             + data)
                continue
            a, b = rng[len("bytes="):].split("-")
            a = int(a)
            b = min(int(b) if b else len(data) - 1, len(data) - 1)
            if st.fault == "range-200":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data)
                             + data)
                continue
            body = data[a:b + 1]
            cr = "bytes %d-%d/%d" % (a, b, len(data))
            if st.fault == "wrong-range" and answers == 2:
                cr = "bytes %d-%d/%d" % (a + 1, b + 1, len(data))
            hdr = "HTTP/1.1 206 Partial Content\r\nContent-Range: %s\r\n" % cr
            hdr += "Accept-Ranges: bytes\r\nContent-Type: application/octet-stream\r\n"
            if st.fault == "no-content-length":
                sock.sendall(hdr.encode() + b"Connection: close\r\n\r\n" + body)
                return
            if st.fault == "chunked":
                sock.sendall(hdr.encode() + b"Transfer-Encoding: chunked\r\n\r\n" +
                             b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
                continue
            if st.fault == "close-each":
                sock.sendall(hdr.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                return
            if st.fault == "extra-bytes" and answers == 3:
                body += b"\x00"
                hdr += "Content-Length: %d\r\n\r\n" % (len(body) - 1)
            else:
                hdr += "Content-Length: %d\r\n\r\n" % len(body)
            sock.sendall(hdr.encode() + body)
    except (OSError, ValueError) as e:
        log("http conn error:", e)
    finally:
        sock.close()


# ---- FinalStage server for E2A ------------------------------------------------

def final_conn(sock, st):
    try:
        req, _ = read_head(sock)
        if req is None:
            return            # E2A's TCP probe: connect, nothing sent, close
        method, path, version, headers = req
        log("final:", method, path, version)
        fname = path.split("/")[-1]
        data = st.files.get(fname)
        if data is None or not path.startswith("/ota/"):
            sock.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        if st.fault == "final-wrong-magic" and fname == IMAGES[1]:
            data = st.files["image_arduino.bin"]
        body = data
        cl = len(data)
        if st.fault == "final-extra":
            body = data + b"\xff" * 8
        if st.fault == "final-short":
            body = data[:len(data) // 2]
        hdr = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        if st.fault != "final-no-cl":
            hdr += "Content-Length: %d\r\n" % cl
        if st.fault == "final-stall":
            sock.sendall(hdr.encode() + b"Connection: close\r\n\r\n" + data[:len(data) // 2])
            time.sleep(15)
            return
        sock.sendall(hdr.encode() + b"Connection: close\r\n\r\n" + body)
        time.sleep(0.2)
    except OSError as e:
        log("final conn error:", e)
    finally:
        sock.close()


def serve_plain(lsock, fn, st):
    while True:
        c, peer = lsock.accept()
        log("%s: connection from %s" % (fn.__name__, peer[0]))
        c.settimeout(60)
        threading.Thread(target=fn, args=(c, st), daemon=True).start()


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--dir", required=True, help="directory with the three images")
    ap.add_argument("--fault", default="none", choices=FAULTS)
    args = ap.parse_args()

    st = State(args)
    warnings.simplefilter("ignore", DeprecationWarning)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA:AES256-SHA:@SECLEVEL=0")
    if args.fault == "tls12-gcm-only":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    ctx.load_cert_chain(args.cert, args.key)

    ls = {name: listen() for name in ("tls", "http", "final")}
    for name, s in ls.items():
        st.ports[name] = s.getsockname()[1]
    threading.Thread(target=serve_tls, args=(ls["tls"], ctx, st), daemon=True).start()
    threading.Thread(target=serve_plain, args=(ls["http"], ota_conn, st), daemon=True).start()
    threading.Thread(target=serve_plain, args=(ls["final"], final_conn, st),
                     daemon=True).start()
    print("PORTS tls=%d http=%d final=%d" % (st.ports["tls"], st.ports["http"],
                                             st.ports["final"]), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
