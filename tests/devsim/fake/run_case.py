#!/usr/bin/env python3
"""Run one devsim self-test case: fake server (with a fault) + devsim, assert the exact
exit code and the reason text on devsim's RESULT line.

Every case can fail both ways: a case expecting success fails when devsim rejects, a case
expecting a rejection fails when devsim accepts or rejects for another reason.
"""
import argparse
import os
import queue
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

# name: (fault, model, start, expected exit code, regex the RESULT line must match, extras)
# extras: model overrides ("set"), AP script ("ap"), devsim args ("args"), log regexes that
# must appear ("log"), image tweaks ("arduino").
CASES = {
    # positive controls
    "ok-user1": ("none", "basic-user1", "sta", 0, r"RESULT ok$",
                 {"log": [r"TLSv1\.1, TLS-RSA-WITH-AES-(128|256)-CBC-SHA",
                          r"final flash holds exactly", r"fake: pong ok"]}),
    "ok-bind": ("none", "basic-user1", "sta", 0, r"RESULT ok$",
                {"args": ["--bind", "127.0.0.2"],
                 "log": [r"fake: tls: connection from 127\.0\.0\.2",
                         r"fake: ota_conn: connection from 127\.0\.0\.2"]}),
    "ok-hook-events": ("none", "basic-user2", "ap", 0, r"RESULT ok$",
                       {"ap": ["valid"], "hook": "",
                        "events": ["ap-up", "ap-down", "sta-up", "sta-down",
                                   "finalstage-up", "finalstage-down",
                                   "finalstage-up", "finalstage-down"]}),
    "ok-ota-close-each": ("close-each", "basic-user1", "sta", 0, r"RESULT ok$",
                          {"log": [r"5 requests, 5 connection\(s\)"]}),
    "ok-ws-fragmented": ("ws-fragmented", "basic-user1", "sta", 0, r"RESULT ok$",
                         {"log": [r"fake: pong ok", r"ping from the server|upgrade \("]}),
    "ok-busy-ws": ("busy-ws", "basic-user1", "sta", 0, r"RESULT ok$",
                   {"log": [r"relay update 3 \(sequence \d+\): on",
                            r"fake: ack error 0 for sequence",
                            r"fake: busy-ws: relay update"]}),
    "ok-pings-during-slow-download": ("none", "pow-old-norange", "sta", 0, r"RESULT ok$",
                                      {"set": ["hb_interval=1"]}),
    "ok-ws-close-first": ("ws-close-first", "basic-user1", "sta", 0, r"RESULT ok$",
                          {"log": [r"WebSocket close frame from the server \(code 1000\)",
                                   r"reconnecting \(connection 2\)"]}),
    "ok-user2": ("none", "basic-user2", "sta", 0, r"RESULT ok$",
                 {"log": [r"fetching user1\.bin", r"Upgrade ROM mode MODE_FLASH_ROM2",
                          r"Upgrade ROM mode MODE_FLASH_ROM1"]}),
    "ok-ap": ("none", "basic-user1", "ap", 0, r"RESULT ok$", {"ap": ["valid"]}),
    "ok-tls12": ("none", "tls12", "sta", 0, r"RESULT ok$", {"log": [r"TLSv1\.2"]}),
    "ok-norange-slow": ("none", "pow-old-norange", "sta", 0, r"RESULT ok$",
                        {"log": [r"too fast", r"ack 404 sent", r"slow download took"]}),
    "ok-drop50": ("none", "drop50", "sta", 0, r"RESULT ok$", {"log": [r"WiFi lost at"]}),
    "ok-final-drop50": ("none", "final-drop50", "sta", 0, r"RESULT ok$",
                        {"log": [r"WiFi dropped at", r"magic byte 0xe9"]}),
    "ok-dout-4ch-ap-split": ("none", "dout-4ch", "ap", 0, r"RESULT ok$",
                             {"ap": ["split", "valid"],
                              "log": [r"ignores a POST /ap split", r"relay update"]}),
    "ok-stop-after-stock": ("none", "basic-user1", "sta", 0, r"RESULT ok$",
                            {"args": ["--stop-after", "stock"],
                             "log": [r"stock OTA done \(--stop-after stock\)"]}),
    "ok-start-e2a": ("none", "basic-user1", "e2a", 0, r"RESULT ok$",
                     {"args": ["--e2a-rom", "2"]}),
    # stock download: exit 13
    "fail-bad-digest": ("bad-digest", "basic-user1", "sta", 13, r"fail download: SHA-256",
                        {"log": [r"ack 404 sent"]}),
    "fail-no-content-length": ("no-content-length", "basic-user1", "sta", 13,
                               r"fail download: 206 without Content-Length", {}),
    "fail-range-200": ("range-200", "basic-user1", "sta", 13,
                       r"fail download: 200 to a Range request", {}),
    "fail-extra-bytes": ("extra-bytes", "basic-user1", "sta", 13,
                         r"fail download: .*beyond Content-Length", {}),
    "fail-chunked": ("chunked", "basic-user1", "sta", 13, r"fail download: chunked", {}),
    "fail-wrong-range": ("wrong-range", "basic-user1", "sta", 13,
                         r"fail download: Content-Range bytes 4097-8192", {}),
    "fail-slowota-too-fast": ("fast-slowota", "pow-old-norange", "sta", 13,
                              r"fail download: the server streamed too fast 3 times", {}),
    # upgrade: exit 12
    "fail-wrong-model": ("wrong-model", "basic-user1", "sta", 12,
                         r"fail upgrade-refused: upgrade refused: upgrade is for model", {}),
    "fail-no-model": ("no-model", "basic-user1", "sta", 12,
                      r"fail upgrade-refused: malformed upgrade: upgrade params.model", {}),
    # dialogue: exit 17
    "fail-date-local": ("date-local", "basic-user1", "sta", 17,
                        r"fail protocol: bad date reply: .*away from real UTC", {}),
    "fail-dup-seq": ("dup-seq", "basic-user1", "sta", 17,
                     r"fail protocol: server update has sequence \d+, not greater", {}),
    "fail-no-pong": ("no-pong", "pow-old-norange", "sta", 17,
                     r"fail protocol: no pong to the ping", {"set": ["hb_interval=1"]}),
    "fail-masked-frames": ("masked-frames", "basic-user1", "sta", 17,
                           r"fail protocol: WebSocket violation by the server: masked", {}),
    "fail-ws-oversized": ("ws-oversized", "basic-user1", "sta", 17,
                          r"fail protocol: WebSocket violation by the server: message larger "
                          r"than 4096 bytes", {}),
    "fail-ws-binary": ("ws-binary", "basic-user1", "sta", 17,
                       r"fail protocol: WebSocket violation by the server: binary frame", {}),
    # overall bound: exit 16; hook: exit 18
    "fail-timeout-no-upgrade": ("no-upgrade", "basic-user1", "sta", 16,
                                r"fail timeout: overall timeout of 3 s exceeded while "
                                r"connected, waiting for the upgrade command",
                                {"args": ["--timeout", "3"], "hook": "", "hook_sleep": 0.5,
                                 "events": ["sta-up", "sta-down"]}),
    # the radio is never on this device's FinalStage (final-assoc says no): E2A never
    # probes the server, and the overall bound ends it
    "fail-final-assoc": ("none", "basic-user1", "sta", 16, r"RESULT fail timeout: .*E2A probing",
                         {"args": ["--timeout", "8", "--blink-ms", "0"], "hook": "",
                          "assoc": "no",
                          "events": ["sta-up", "sta-down", "finalstage-up",
                                     "finalstage-down"],
                          "log": [r"fake: ota_conn: connection"],
                          "nolog": [r"E2A: TCP probe"]}),
    "fail-hook": ("none", "basic-user1", "sta", 18,
                  r"fail hook: hook \"\S+ sta-up 1000abcd01\" failed \(exit 3\)",
                  {"hook": "sta-up"}),
    # TLS: exit 11
    "fail-tls-mismatch": ("tls12-gcm-only", "basic-user1", "sta", 11,
                          r"fail tls: TLS handshake failed 3 times \(firmware 1\.5\.5\)", {}),
    "fail-pinned": ("none", "pinned-1.6", "sta", 11,
                    r"fail tls: pinned certificate rejected 3 times", {}),
    # E2A: exit 14
    "fail-e2a-magic": ("final-wrong-magic", "basic-user1", "e2a", 14,
                       r"fail e2a: Retry counter exceeded - giving up: 3 attempts for rom 2 "
                       r"failed, last: Invalid magic byte - retry \(0xe9, expected 0xea\)",
                       {"args": ["--e2a-rom", "1"]}),
    "fail-final-extra": ("final-extra", "basic-user1", "sta", 14,
                         r"fail e2a: 8 byte\(s\) beyond Content-Length .* underflow", {}),
    "fail-final-short": ("final-short", "basic-user1", "sta", 14,
                         r"fail e2a: the server closed the connection after \d+ of \d+ "
                         r"bytes", {}),
    "fail-final-stall": ("final-stall", "basic-user1", "e2a", 14,
                         r"fail e2a: stream stalled for 10 s at 20480 of 40960 bytes: E2A "
                         r"\(no read timeout\) would hang forever", {"args": ["--e2a-rom", "2"]}),
    "fail-final-no-cl": ("final-no-cl", "basic-user1", "sta", 14,
                         r"fail e2a: Retry counter exceeded .*no Content-Length", {}),
    "fail-mode-unknown": ("none", "final-drop50", "sta", 14,
                          r"fail e2a: MODE_UNKNOWN: FinalStage up forever, needs serial",
                          {"arduino": "no-app-header"}),
    "fail-dout-qio": ("user-qio", "dout-4ch", "sta", 14,
                      r"fail e2a: bricked: the image in slot 1 has flash mode QIO", {}),
    # final flash: exit 15
    "fail-final-mismatch": ("none", "basic-user1", "sta", 15,
                            r"fail flash: final flash differs from --expect-final at offset "
                            r"0x01000", {"expect": "mismatch"}),
    "fail-final-unaligned": ("none", "basic-user1", "sta", 15,
                             r"fail flash: final flash differs .* at offset 0x0a000",
                             {"arduino": "unaligned"}),
    # AP: exit 10 and silent ignores
    "fail-ap-timeout": ("none", "basic-user1", "ap", 10,
                        r"fail ap-timeout: nobody provisioned the AP within 2 s",
                        {"args": ["--ap-timeout", "2"], "ap": []}),
    "ok-ap-ignores-bad-posts": ("none", "basic-user1", "ap", 0, r"RESULT ok$",
                                {"ap": ["bad-json", "string-port", "http10", "valid"],
                                 "log": [r"ignoring POST /ap silently.*not valid JSON",
                                         r"\"port\" missing or not an integer",
                                         r"rejecting POST /ap: not HTTP/1.1"]}),
    "fail-ap-ssid": ("none", "basic-user1", "ap", 17,
                     r"fail protocol: POST /ap carried ssid \"home\", but the home WiFi",
                     {"args": ["--ssid-check", "other"], "ap": ["valid"]}),
}

DEVICEID = "1000abcd01"


def user_image(seed, size=20480, mode=3):
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(size))
    data[0:4] = bytes([0xEA, 0x04, mode, 0x20])
    return bytes(data)


def arduino_image(tweak=None, size=40960):
    rnd = random.Random(7)
    data = bytearray(rnd.randbytes(size))
    data[0:4] = bytes([0xE9, 0x01, 0x03, 0x20])          # eboot
    data[0x1000:0x1004] = bytes([0xE9, 0x04, 0x03, 0x20])  # the Arduino app
    if tweak == "no-app-header":
        data[0x1000] = 0x00
    if tweak == "unaligned":
        data += b"\x5a\x5a"
    return bytes(data)


PRINT_LOCK = threading.Lock()


class Lines:
    """Collects a pipe's lines in a thread, echoing them for the test log."""

    def __init__(self, pipe, prefix=""):
        self.q = queue.Queue()
        self.all = []
        self.prefix = prefix
        self.t = threading.Thread(target=self.run, args=(pipe,), daemon=True)
        self.t.start()

    def run(self, pipe):
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip("\n")
            with PRINT_LOCK:
                print(self.prefix + line, flush=True)
            self.all.append(line)
            self.q.put(line)
        self.q.put(None)

    def wait_for(self, pattern, timeout):
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.q.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                break
            if line is None:
                break
            m = re.search(pattern, line)
            if m:
                return m
        return None


def http_exchange(port, data, expect, split=False):
    """Send a raw request to the AP; expect 'reply', 'silence' or 'closed'."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if split:
            head, body = data.split(b"\r\n\r\n", 1)
            s.sendall(head + b"\r\n\r\n")
            time.sleep(0.3)
            s.sendall(body)
        else:
            s.sendall(data)
        s.settimeout(1.5)
        try:
            got = s.recv(4096)
        except socket.timeout:
            got = None
    finally:
        s.close()
    if expect == "reply":
        ok = bool(got) and got.startswith(b"HTTP/1.1 200") and b'{"error":0}' in got
    elif expect == "silence":
        ok = got is None
    else:
        ok = got == b""
    print("runner: AP %s -> %r (expected %s): %s" % (data.split(b"\r\n")[0], got, expect,
                                                     "ok" if ok else "WRONG"), flush=True)
    return ok


def post(body, version="1.1"):
    return (b"POST /ap HTTP/%s\r\nHost: 10.10.7.1\r\nContent-Length: %d\r\n\r\n"
            % (version.encode(), len(body)) + body)


def provision(port, steps, tls_port):
    valid = (b'{"version":4,"ssid":"home","password":"secret-pw","serverName":"127.0.0.1",'
             b'"port":%d}' % tls_port)
    ok = True
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /device HTTP/1.1\r\nHost: 10.10.7.1\r\n\r\n")
    s.settimeout(3)
    got = s.recv(4096)
    s.close()
    if b'"accept":"post"' not in got or DEVICEID.encode() not in got:
        print("runner: GET /device answered %r" % got, flush=True)
        ok = False
    for step in steps:
        if step == "valid":
            ok &= http_exchange(port, post(valid), "reply")
        elif step == "bad-json":
            ok &= http_exchange(port, post(valid[:-1]), "silence")
        elif step == "string-port":
            ok &= http_exchange(port, post(valid.replace(b'"port":', b'"port":"')[:-1] +
                                           b'"}'), "silence")
        elif step == "http10":
            ok &= http_exchange(port, post(valid, "1.0"), "closed")
        elif step == "split":
            ok &= http_exchange(port, post(valid), "silence", split=True)
    return ok


def main():
    if sys.argv[1:] == ["--list-cases"]:
        print("\n".join(sorted(CASES)))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--devsim", required=True)
    ap.add_argument("--fake", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    a = ap.parse_args()
    fault, model, start, want_code, want_re, extra = CASES[a.case]

    with tempfile.TemporaryDirectory(prefix="devsim-case-") as tmp:
        imgs = {
            "image_user1-0x01000.bin": user_image(1),
            "image_user2-0x81000.bin": user_image(2),
            "image_arduino.bin": arduino_image(extra.get("arduino")),
        }
        for name, data in imgs.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        expect = os.path.join(tmp, "image_arduino.bin")
        if extra.get("expect") == "mismatch":
            data = bytearray(imgs["image_arduino.bin"])
            data[0x1000] ^= 0xFF
            expect = os.path.join(tmp, "expected.bin")
            with open(expect, "wb") as f:
                f.write(data)
        model_path = os.path.join(a.models, model + ".model")
        if extra.get("set"):
            with open(model_path) as f:
                text = f.read()
            model_path = os.path.join(tmp, "case.model")
            with open(model_path, "w") as f:
                f.write(text + "\n".join(extra["set"]) + "\n")

        fake_lines = None
        fake = subprocess.Popen([sys.executable, a.fake, "--cert", a.cert, "--key", a.key,
                                 "--dir", tmp, "--fault", fault],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        dev = None
        try:
            fake_lines = Lines(fake.stderr, "  ")
            line = fake.stdout.readline().decode()
            m = re.match(r"PORTS tls=(\d+) http=(\d+) final=(\d+)", line)
            if not m:
                print("runner: fake server did not start: %r" % line)
                return 1
            tls, _, final = (int(x) for x in m.groups())
            cmd = [a.devsim, "--model", model_path, "--deviceid", DEVICEID,
                   "--start", start, "--final-host", "127.0.0.1", "--final-port", str(final),
                   "--blink-ms", "50", "--timeout", "45", "--expect-final", expect]
            if start == "sta":
                cmd += ["--server", "127.0.0.1:%d" % tls]
            if start == "ap":
                cmd += ["--ap-addr", "127.0.0.1", "--ap-port", "0"]
            events = os.path.join(tmp, "events")
            if "hook" in extra:
                hook = os.path.join(tmp, "hook.sh")
                with open(hook, "w") as f:
                    f.write('#!/bin/sh\nsleep %s\necho "$1 $2" >> %s\n'
                            '[ "$1" = "%s" ] && exit 3\n'
                            '[ "$1" = final-assoc ] && exit %d\nexit 0\n'
                            % (extra.get("hook_sleep", 0), events, extra["hook"],
                               1 if extra.get("assoc") == "no" else 0))
                os.chmod(hook, 0o755)
                cmd += ["--hook", hook]
            cmd += extra.get("args", [])
            print("runner: case %s: fault %s: %s" % (a.case, fault, " ".join(cmd)), flush=True)
            dev = subprocess.Popen(cmd, stderr=subprocess.PIPE)
            lines = Lines(dev.stderr)
            ok = True
            if start == "ap" and extra.get("ap"):
                m = lines.wait_for(r"HTTP server listening on 127\.0\.0\.1:(\d+)", 10)
                if not m:
                    print("runner: devsim did not report its AP port")
                    ok = False
                else:
                    ok &= provision(int(m.group(1)), extra["ap"], tls)
            code = dev.wait(timeout=60)
            lines.t.join(timeout=5)
        finally:
            if dev and dev.poll() is None:
                dev.kill()
            fake.kill()
            fake.wait()
            if fake_lines:
                fake_lines.t.join(timeout=5)
        result = [l for l in lines.all if l.startswith("devsim: RESULT")]
        last = lines.all[-1] if lines.all else ""
        print("runner: exit code %d (expected %d)" % (code, want_code))
        if code != want_code:
            ok = False
        if not result or last != result[-1] or not re.search(want_re, last):
            print("runner: last line %r does not match %r" % (last, want_re))
            ok = False
        if "events" in extra:
            with open(events) as f:
                asked = [l.split() for l in f.read().splitlines()]
            # final-assoc is E2A's question before each probe, not a WiFi event: it
            # must be asked (only) while a FinalStage is up
            got, up = [], False
            for e in asked:
                if e[0] == "final-assoc":
                    if not up:
                        print("runner: final-assoc asked with no FinalStage up")
                        ok = False
                    continue
                up = {"finalstage-up": True, "finalstage-down": False}.get(e[0], up)
                got.append(e)
            want = [[e, DEVICEID] for e in extra["events"]]
            if got != want:
                print("runner: hook events %r, expected %r" % (got, want))
                ok = False
            if "finalstage-up" in extra["events"] and \
                    not any(e[0] == "final-assoc" for e in asked):
                print("runner: E2A never asked final-assoc")
                ok = False
        for pat in extra.get("log", []):
            if not any(re.search(pat, l) for l in lines.all + fake_lines.all):
                print("runner: no log line matches %r" % pat)
                ok = False
        for pat in extra.get("nolog", []):
            if any(re.search(pat, l) for l in lines.all):
                print("runner: a devsim log line matches %r" % pat)
                ok = False
        print("runner: case %s %s" % (a.case, "PASSED" if ok else "FAILED"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
