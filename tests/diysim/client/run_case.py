#!/usr/bin/python3
"""Scripted client for diysim (tests/diysim/README.md): one case per run, standard library only.

It plays sonota-c's side of the DIY route (DIY-PROTOCOL.md §10): an mDNS tap, an image server
with exact 206 Range answers that records every request and the completion POST, an optional
fake unlock server, and the /zeroconf requests. Each case asserts the exact outcome (exit code,
completion code, served ranges, Host header, mDNS records), so a positive case fails when the
simulator does not complete and a negative case fails when it does not refuse.
"""
import argparse
import atexit
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

GAP = 0.25  # the client keeps >= 200 ms between requests (§3.3); 250 for scheduling slack
CHUNK = 4096


# ---- synthetic images (never third-party bytes) -------------------------------------------

def v1(mode, data, nseg_addr=0x40100000):
    b = bytearray([0xE9, 1, mode, 0x20]) + struct.pack('<I', 0x40100004)
    b += struct.pack('<II', nseg_addr, len(data)) + data
    s = 0xEF
    for x in data:
        s ^= x
    while len(b) % 16 != 15:
        b.append(0)
    b.append(s)
    return b


def make_image(size, mode=3):
    """A plain ESP8266 layout (eboot at 0, app at 0x1000) of exactly size bytes."""
    e = v1(mode, bytes((i * 5) & 255 for i in range(0x40)), 0x4010F000)
    e += b'\xAA' * (0x1000 - len(e))
    app = v1(mode, bytes((i * 7 + 3) & 255 for i in range(size - 0x1000 - 0x20)))
    img = bytes(e + app)
    assert len(img) == size, (len(img), size)
    return img


def gzip_image(size):
    return b'\x1f\x8b\x08\x00' + bytes((i * 13) & 255 for i in range(size - 4))


# ---- servers -----------------------------------------------------------------------------

class ImageServer:
    def __init__(self, image, ignore_range=False):
        self.image, self.ignore_range = image, ignore_range
        self.ranges, self.hosts, self.completions = [], [], []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def setup(self):
                super().setup()
                # head and body are separate writes: avoid Nagle + delayed-ACK stalls
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *a):
                pass

            def do_GET(self):
                with outer.lock:
                    outer.hosts.append(self.headers.get('Host'))
                m = re.fullmatch(r'bytes=(\d+)-(\d+)', self.headers.get('Range', ''))
                img = outer.image
                if self.path != '/diy/image.bin':
                    self.send_response(404)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                if outer.ignore_range or not m:
                    self.send_response(200)
                    self.send_header('Content-Length', str(len(img)))
                    self.end_headers()
                    self.wfile.write(img)
                    return
                a, b = int(m.group(1)), min(int(m.group(2)), len(img) - 1)
                with outer.lock:
                    outer.ranges.append((a, b))
                self.send_response(206)
                self.send_header('Content-Range', 'bytes %d-%d/%d' % (a, b, len(img)))
                self.send_header('Content-Length', str(b - a + 1))
                self.end_headers()
                self.wfile.write(img[a:b + 1])

            def do_POST(self):
                n = int(self.headers.get('Content-Length', '0'))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.completions.append((self.path, body))
                out = b'{"error":0}'
                self.send_response(200)
                self.send_header('Content-Length', str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.httpd.handle_error = lambda request, address: None  # resets are the point here
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self):
        return 'http://127.0.0.1:%d/diy/image.bin' % self.port


class UnlockServer:
    """A fake apid.coolkit.cn (§4.1): answers error for POST /v2/d/otaflash."""
    def __init__(self, error=0):
        self.seen = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get('Content-Length', '0'))
                outer.seen.append((self.path, self.headers.get('Host'), self.rfile.read(n)))
                out = json.dumps({'error': error}).encode()
                self.send_response(200)
                self.send_header('Content-Length', str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.httpd.handle_error = lambda request, address: None  # resets are the point here
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


class MdnsTap:
    """Receives the simulator's mDNS packets (unicast to us in tests) and decodes them."""
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.packets = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            data, _ = self.sock.recvfrom(2048)
            self.packets.append(decode_mdns(data))

    def wait(self, pred, timeout=5.0):
        end = time.time() + timeout
        while time.time() < end:
            for p in list(self.packets):
                if pred(p):
                    return p
            time.sleep(0.05)
        return None


def read_name(d, off):
    labels = []
    while d[off]:
        n = d[off]
        labels.append(d[off + 1:off + 1 + n].decode())
        off += n + 1
    return '.'.join(labels), off + 1


def decode_mdns(d):
    _, flags, qd, an, ns, ar = struct.unpack('>6H', d[:12])
    assert flags & 0x8000 and qd == 0, 'not an unsolicited response'
    off, recs = 12, []
    for _ in range(an):
        name, off = read_name(d, off)
        typ, cls, ttl, rdl = struct.unpack('>HHIH', d[off:off + 10])
        off += 10
        rd = d[off:off + rdl]
        off += rdl
        rec = {'name': name, 'type': typ, 'ttl': ttl}
        if typ == 16:
            txt, t = {}, 0
            while t < len(rd):
                n = rd[t]
                k, _, v = rd[t + 1:t + 1 + n].decode().partition('=')
                txt[k] = v
                t += n + 1
            rec['txt'] = txt
        if typ == 33:
            rec['port'] = struct.unpack('>H', rd[4:6])[0]
        recs.append(rec)
    assert off == len(d), 'trailing bytes'
    return recs


# ---- the /zeroconf client ------------------------------------------------------------------

class Device:
    def __init__(self, port):
        self.port, self.last = port, 0.0

    def raw(self, path, body, version='1.1', timeout=5.0, pace=True, sock=None):
        """('reply', json) | ('empty',) | ('reset',) | ('timeout',)"""
        if pace:
            wait = self.last + GAP - time.time()
            if wait > 0:
                time.sleep(wait)
        try:
            # a busy device resets a second connection; under load the RST can reach us
            # before connect() returns
            s = sock or socket.create_connection(('127.0.0.1', self.port), timeout=timeout)
        except (ConnectionResetError, ConnectionRefusedError):
            self.last = time.time()
            return ('reset',)
        s.settimeout(timeout)
        req = ('POST /zeroconf/%s HTTP/%s\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json'
               '\r\nContent-Length: %d\r\n\r\n' % (path, version, self.port, len(body))).encode() + body
        data = b''
        try:
            s.sendall(req)
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            s.close()
            self.last = time.time()
            return ('timeout',)
        except (ConnectionResetError, BrokenPipeError):
            s.close()
            self.last = time.time()
            return ('reset',)
        s.close()
        self.last = time.time()
        if not data:
            return ('empty',)
        head, _, payload = data.partition(b'\r\n\r\n')
        assert head.startswith(b'HTTP/1.1 200'), head
        return ('reply', json.loads(payload))

    def call(self, path, deviceid, data=None, **kw):
        body = {} if deviceid is None else {'deviceid': deviceid}
        body['data'] = data or {}
        return self.raw(path, json.dumps(body, separators=(',', ':')).encode(), **kw)


def info_data(reply):
    d = reply[1]['data']
    return (json.loads(d), True) if isinstance(d, str) else (d, False)


# ---- harness -------------------------------------------------------------------------------

class Sim:
    def __init__(self, args, model, extra, tap):
        cmd = [args.diysim, '--model', os.path.join(args.models, model + '.model'), '--port', '0',
               '--mdns', '127.0.0.1:%d' % tap.port, '--timeout', '60'] + extra
        self.p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        self.lines, self.port = [], None
        ready = threading.Event()

        def reader():
            for line in self.p.stderr:
                sys.stderr.write(line)
                self.lines.append(line.rstrip('\n'))
                m = re.search(r'listening on 127\.0\.0\.1:(\d+)', line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        atexit.register(lambda: self.p.poll() is None and self.p.kill())  # no orphan on a crash
        if not ready.wait(10) or not self.port:
            raise SystemExit('diysim did not start')

    def finish(self, stop=False, timeout=30):
        if stop:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout)
        time.sleep(0.1)
        return rc

    def result(self):
        return next((l for l in self.lines if l.startswith('diysim: RESULT')), '')


FAILS = []


def expect(cond, what):
    if not cond:
        FAILS.append(what)
        print('FAIL: ' + what, file=sys.stderr)


def takeover(dev, deviceid, img_srv, sha):
    """sonota-c's sequence (diyflow.h): info, unlock only if needed, flash; deviceid retried
    without the key once when the device drops it. Returns the ota_flash outcome."""
    use_id = deviceid
    r = dev.call('info', use_id)
    if r[0] != 'reply' or r[1]['error'] == 422:
        use_id = None
        r = dev.call('info', None)
    expect(r[0] == 'reply' and r[1]['error'] == 0, 'info answered: %r' % (r,))
    data, _ = info_data(r)
    if not data.get('otaUnlock'):
        u = dev.call('ota_unlock', use_id)
        expect(u == ('reply', {'seq': u[1].get('seq') if u[0] == 'reply' else None, 'error': 0}),
               'ota_unlock answered 0: %r' % (u,))
        r = dev.call('info', use_id)
        expect(info_data(r)[0].get('otaUnlock') is True, 'unlocked after ota_unlock')
    return dev.call('ota_flash', use_id, {'downloadUrl': img_srv.url(), 'sha256sum': sha})


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def announced(tap, did, goodbye=False):
    def pred(recs):
        txt = [r for r in recs if r['type'] == 16]
        return txt and txt[0]['txt'].get('id') == did and (
            all(r['ttl'] == 0 for r in recs) if goodbye else all(r['ttl'] > 0 for r in recs))
    return tap.wait(pred, 5)


DID = '1000abcdef'
MODEL = {'3.3': 'r3-3.3', '3.6': 'r3-3.6', '3.7': 'r3-3.7', 'minir3': 'minir3'}


def case_ok(args, fw):
    tap = MdnsTap()
    img = make_image(480000)
    srv = ImageServer(img)
    sim = Sim(args, MODEL[fw], [], tap)
    a = announced(tap, DID)
    expect(a is not None, 'mDNS announcement with TXT id')
    if a:
        txt = [r for r in a if r['type'] == 16][0]['txt']
        srv_rec = [r for r in a if r['type'] == 33]
        expect(txt.get('type') == 'diy_plug' and txt.get('txtvers') == '1' and 'data1' in txt,
               'TXT keys: %r' % txt)
        expect(json.loads(txt['data1']) is not None, 'data1 is JSON')
        expect(srv_rec and srv_rec[0]['port'] == sim.port, 'SRV port')
        expect(any(r['type'] == 12 and r['name'] == '_ewelink._tcp.local' for r in a), 'PTR')
    dev = Device(sim.port)
    r = dev.call('info', None)
    data, as_string = info_data(r)
    expect(as_string == (fw == '3.3'), 'info.data is a string only on 3.3')
    expect(('fwVersion' in data) == (fw != '3.3'), 'fwVersion only on 3.5+')
    f = takeover(dev, DID, srv, hashlib.sha256(img).hexdigest())
    expect(f[0] == 'reply' and f[1]['error'] == 0, 'ota_flash answered 0: %r' % (f,))
    rc = sim.finish()
    expect(rc == 0, 'exit 0 (flashed), got %d' % rc)
    want = [(a, min(a + CHUNK - 1, len(img) - 1)) for a in range(0, len(img), CHUNK)]
    expect(srv.ranges == want, 'sequential 4096-byte ranges covering the image (%d requests)'
           % len(srv.ranges))
    host = 'dl.itead.cn' if fw == '3.6' else '127.0.0.1:%d' % srv.port
    expect(set(srv.hosts) == {host}, 'Host header %r, want %r' % (set(srv.hosts), host))
    expect(srv.completions == [('/api/device/otaFlash', b'{"error":0}')],
           'completion POST: %r' % srv.completions)
    expect(announced(tap, DID, goodbye=True) is not None, 'mDNS goodbye (TTL 0)')
    try:
        socket.create_connection(('127.0.0.1', sim.port), timeout=1).close()
        expect(False, 'port 8081 closed after the reboot')
    except OSError:
        pass


def flash_case(args, model, img, sha, want_rc, want_completion, srv_kw=None, extra=None,
               still_diy=False):
    tap = MdnsTap()
    srv = ImageServer(img, **(srv_kw or {}))
    sim = Sim(args, model, ['--unlocked'] + (extra or []), tap)
    dev = Device(sim.port)
    f = dev.call('ota_flash', DID, {'downloadUrl': srv.url(), 'sha256sum': sha})
    expect(f[0] == 'reply' and f[1]['error'] == 0, 'ota_flash answered 0 (no proof): %r' % (f,))
    if still_diy:
        expect(wait_for(lambda: srv.completions, 15), 'a completion POST arrived')
        r = dev.call('info', DID)
        expect(r[0] == 'reply' and r[1]['error'] == 0, 'still in DIY mode after the failure')
    rc = sim.finish(stop=still_diy)
    expect(rc == want_rc, 'exit %d, got %d (%s)' % (want_rc, rc, sim.result()))
    bodies = [json.loads(b)['error'] for p, b in srv.completions]
    expect(bodies == want_completion, 'completion codes %r, want %r' % (bodies, want_completion))
    return sim, srv


def case_fail_digest(args):
    img = make_image(200000)
    flash_case(args, 'r3-3.6', img, hashlib.sha256(img + b'x').hexdigest(), 11, [409],
               still_diy=True)


def case_fail_uppercase_digest(args):
    img = make_image(200000)
    sim, _ = flash_case(args, 'r3-3.6', img, hashlib.sha256(img).hexdigest().upper(), 11, [409],
                        still_diy=True)
    expect('IT#102' in sim.result(), 'upper case named in the result')


def case_brick_qio(args):
    img = make_image(200000, mode=0)
    sim, _ = flash_case(args, 'r3-3.7', img, hashlib.sha256(img).hexdigest(), 10, [0])
    expect('DOUT' in sim.result(), 'QIO bricks: %s' % sim.result())


def case_brick_gzip(args):
    img = gzip_image(200000)
    sim, _ = flash_case(args, 'r3-3.6', img, hashlib.sha256(img).hexdigest(), 10, [0])
    expect('gzip' in sim.result(), 'gzip bricks: %s' % sim.result())


def case_fail_oversize(args):
    img = make_image(524288)
    sim, srv = flash_case(args, 'r3-3.6', img, hashlib.sha256(img).hexdigest(), 11, [404],
                          still_diy=True)
    expect(len(srv.ranges) == 1, 'the device stops after the first Content-Range')


def case_fail_norange(args):
    img = make_image(200000)
    flash_case(args, 'r3-3.6', img, hashlib.sha256(img).hexdigest(), 11, [404],
               srv_kw={'ignore_range': True}, still_diy=True)


def case_drop(args):
    tap = MdnsTap()
    img = make_image(400000)
    srv = ImageServer(img)
    sim = Sim(args, 'r3-3.6-drop50', ['--unlocked'], tap)
    dev = Device(sim.port)
    f = dev.call('ota_flash', DID, {'downloadUrl': srv.url(),
                                    'sha256sum': hashlib.sha256(img).hexdigest()})
    expect(f[0] == 'reply' and f[1]['error'] == 0, 'ota_flash answered 0: %r' % (f,))
    expect(wait_for(lambda: any('WiFi dropped' in l for l in sim.lines), 15), 'the drop happened')
    n = len(img) // CHUNK
    expect(n // 2 - 1 <= len(srv.ranges) <= n // 2 + 2, 'stopped mid-image after %d of %d ranges'
           % (len(srv.ranges), n))
    r = dev.call('info', DID)
    expect(r[0] == 'reply' and r[1]['error'] == 0, 'back in DIY mode after the drop')
    expect(sim.finish(stop=True) == 11, 'exit 11 (flash failed): %s' % sim.result())
    expect(srv.completions == [], 'no completion POST after a drop')


def case_no_completion(args):
    img = make_image(200000)
    sim, srv = flash_case(args, 'r3-3.6-nocompletion', img, hashlib.sha256(img).hexdigest(), 0,
                          [])
    expect(len(srv.ranges) == (len(img) + CHUNK - 1) // CHUNK, 'every byte served')


def case_quirk_deviceid_37(args):
    sim = Sim(args, 'r3-3.7', [], MdnsTap())
    dev = Device(sim.port)
    r = dev.call('info', '')
    expect(r[0] in ('empty', 'reset'), '"deviceid":"" dropped on 3.7: %r' % (r,))
    r = dev.call('info', None)
    expect(r[0] == 'reply' and r[1]['error'] == 0, 'no key works: %r' % (r,))
    r = dev.call('info', DID)
    expect(r[0] == 'reply' and r[1]['error'] == 0, 'real id works: %r' % (r,))
    r = dev.call('info', '1000000000')
    expect(r[0] == 'reply' and r[1]['error'] == 404, 'wrong id -> 404: %r' % (r,))
    expect(sim.finish(stop=True) == 12, 'idle exit')


def case_quirk_deviceid_36(args):
    sim = Sim(args, 'r3-3.6', [], MdnsTap())
    dev = Device(sim.port)
    r = dev.call('info', '')
    expect(r[0] == 'reply' and r[1]['error'] == 0, '"" still works on 3.6: %r' % (r,))
    expect(sim.finish(stop=True) == 12, 'idle exit')


def case_quirk_deviceid_minir3(args):
    tap = MdnsTap()
    img = make_image(300000)
    srv = ImageServer(img)
    sim = Sim(args, 'minir3', [], tap)
    dev = Device(sim.port)
    r = dev.call('info', DID)
    expect(r[0] == 'reply' and r[1]['error'] == 422, 'deviceid -> 422 on MINIR3: %r' % (r,))
    f = takeover(dev, DID, srv, hashlib.sha256(img).hexdigest())
    expect(f[0] == 'reply' and f[1]['error'] == 0, 'flash without the key: %r' % (f,))
    expect(sim.finish() == 0, 'flashed')


def case_http10_ignored(args):
    sim = Sim(args, 'r3-3.6', [], MdnsTap())
    dev = Device(sim.port)
    r = dev.call('info', DID, version='1.0', timeout=3)
    expect(r[0] in ('empty', 'timeout'), 'HTTP/1.0 gets no answer: %r' % (r,))
    r = dev.call('info', DID)
    expect(r[0] == 'reply' and r[1]['error'] == 0, 'HTTP/1.1 answered')
    sim.finish(stop=True)
    expect('http10-ignored=1' in sim.result(), sim.result())


def case_too_close(args):
    sim = Sim(args, 'r3-3.6', [], MdnsTap())
    dev = Device(sim.port)
    r = dev.call('info', DID)
    expect(r[0] == 'reply', 'first request answered')
    time.sleep(0.05)
    r = dev.call('info', DID, pace=False)
    expect(r[0] in ('reset', 'empty'), 'a request 50 ms later is refused: %r' % (r,))
    time.sleep(GAP)
    r = dev.call('info', DID, pace=False)
    expect(r[0] == 'reply', 'answered again after 250 ms: %r' % (r,))
    sim.finish(stop=True)
    expect('gap-refused=1' in sim.result(), sim.result())


def case_second_connection(args):
    sim = Sim(args, 'r3-3.6', [], MdnsTap())
    dev = Device(sim.port)
    first = socket.create_connection(('127.0.0.1', sim.port))
    time.sleep(0.3)
    r = dev.call('info', DID, pace=False)
    expect(r[0] in ('reset', 'empty'), 'second connection reset: %r' % (r,))
    r = dev.call('info', DID, sock=first, pace=False)
    expect(r[0] == 'reply' and r[1]['error'] == 0, 'first connection still served: %r' % (r,))
    sim.finish(stop=True)
    expect('second-conn-rst=1' in sim.result(), sim.result())


def case_unlock_offline(args):
    sim = Sim(args, 'r3-3.6', ['--unlock', 'offline', '--unlock-hang-ms', '1500'], MdnsTap())
    dev = Device(sim.port)
    t0 = time.time()
    r = dev.call('ota_unlock', DID, timeout=10)
    dt = time.time() - t0
    expect(r[0] == 'empty' and dt >= 1.4, 'offline unlock: no reply after the hang: %r %.1fs'
           % (r, dt))
    r = dev.call('info', DID)
    expect(info_data(r)[0].get('otaUnlock') is False, 'still locked')
    r = dev.call('ota_flash', DID, {'downloadUrl': 'http://127.0.0.1:1/x', 'sha256sum': '0' * 64})
    expect(r == ('reply', {'seq': r[1]['seq'], 'error': 403}) if r[0] == 'reply' else False,
           'ota_flash while locked -> 403: %r' % (r,))
    expect(sim.finish(stop=True) == 12, 'idle exit')


def case_unlock_server(args):
    tap = MdnsTap()
    img = make_image(200000)
    srv = ImageServer(img)
    unl = UnlockServer(0)
    sim = Sim(args, 'r3-3.7', ['--unlock', '127.0.0.1:%d' % unl.port], tap)
    dev = Device(sim.port)
    f = takeover(dev, DID, srv, hashlib.sha256(img).hexdigest())
    expect(f[0] == 'reply' and f[1]['error'] == 0, 'flash accepted')
    expect(sim.finish() == 0, 'flashed')
    expect(len(unl.seen) == 1 and unl.seen[0][0] == '/v2/d/otaflash' and
           unl.seen[0][1] == 'apid.coolkit.cn', 'unlock server contacted: %r' % unl.seen)


def case_malformed(args):
    sim = Sim(args, 'r3-3.3', [], MdnsTap())
    dev = Device(sim.port)
    r = dev.raw('info', b'{"deviceid":', timeout=2)
    expect(r[0] == 'timeout', '3.3 hangs on malformed JSON: %r' % (r,))
    sim.finish(stop=True)
    sim = Sim(args, 'r3-3.6', [], MdnsTap())
    dev = Device(sim.port)
    t0 = time.time()
    r = dev.raw('info', b'{"deviceid":', timeout=5)
    expect(r[0] in ('reset', 'empty') and time.time() - t0 < 2, '3.6 resets: %r' % (r,))
    sim.finish(stop=True)


def case_mdns_multicast(args):
    """The default path: real mDNS on 224.0.0.251:5353 (on lo), announcements and an answer to
    a PTR query. Skipped (77) where multicast on loopback is not available."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(('', 5353))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton('224.0.0.251') + socket.inet_aton('127.0.0.1'))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('127.0.0.1'))
    except OSError as e:
        print('skip: no multicast on loopback: %s' % e)
        sys.exit(77)
    s.settimeout(0.5)
    did = '10000cafe5'
    p = subprocess.Popen([args.diysim, '--model', os.path.join(args.models, 'r3-3.6.model'),
                          '--port', '0', '--deviceid', did, '--timeout', '8'],
                         stderr=subprocess.DEVNULL)
    ours, queried, end = 0, False, time.time() + 6
    while time.time() < end and ours < 3:
        try:
            d, _ = s.recvfrom(2048)
        except socket.timeout:
            continue
        if d[2] & 0x80 == 0:
            continue  # a query (ours, looped back, or another host's)
        try:
            recs = decode_mdns(d)
        except (AssertionError, IndexError, struct.error, UnicodeDecodeError):
            continue  # another responder's packet, compressed names etc.
        if not any(r['type'] == 16 and r['txt'].get('id') == did for r in recs):
            continue
        ours += 1
        if ours == 2 and not queried:  # after the two announcements (RFC 6762 §8.3)
            q = struct.pack('>6H', 0, 0, 1, 0, 0, 0) + b'\x08_ewelink\x04_tcp\x05local\x00' + \
                struct.pack('>HH', 12, 1)
            s.sendto(q, ('224.0.0.251', 5353))
            queried = True
    p.send_signal(signal.SIGTERM)
    p.wait(10)
    expect(ours >= 3, 'two announcements and an answer to the PTR query on 224.0.0.251:5353 '
           '(got %d packets of ours)' % ours)


CASES = {
    'ok-3.3': lambda a: case_ok(a, '3.3'),
    'ok-3.6': lambda a: case_ok(a, '3.6'),
    'ok-3.7': lambda a: case_ok(a, '3.7'),
    'ok-minir3': lambda a: case_ok(a, 'minir3'),
    'fail-digest': case_fail_digest,
    'fail-uppercase-digest': case_fail_uppercase_digest,
    'brick-qio': case_brick_qio,
    'brick-gzip': case_brick_gzip,
    'fail-oversize': case_fail_oversize,
    'fail-norange': case_fail_norange,
    'drop': case_drop,
    'no-completion': case_no_completion,
    'deviceid-3.7': case_quirk_deviceid_37,
    'deviceid-3.6': case_quirk_deviceid_36,
    'deviceid-minir3': case_quirk_deviceid_minir3,
    'http10-ignored': case_http10_ignored,
    'too-close': case_too_close,
    'second-connection': case_second_connection,
    'unlock-offline': case_unlock_offline,
    'unlock-server': case_unlock_server,
    'malformed': case_malformed,
    'mdns-multicast': case_mdns_multicast,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--diysim')
    ap.add_argument('--models')
    ap.add_argument('--case')
    ap.add_argument('--list-cases', action='store_true')
    args = ap.parse_args()
    if args.list_cases:
        print('\n'.join(CASES))
        return 0
    CASES[args.case](args)
    if FAILS:
        print('%d check(s) failed' % len(FAILS), file=sys.stderr)
        return 1
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
