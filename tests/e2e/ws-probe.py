#!/usr/bin/env python3
# ws-probe.py HOST PORT SECS: open a websocket to sonota-c's /api/ws over TLS, send one
# `update` frame with a deviceid (no register first) and hold the connection SECS seconds.
# A connection that never registered must not take a --max-devices place (e2e
# max-devices-exact). Prints "probe: update sent, holding" once the frame went out.
import socket, ssl, sys, base64, os, time, json, struct
host, port, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((host, port)))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /api/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, key)).encode())
resp = s.recv(4096)
assert b" 101 " in resp.split(b"\r\n")[0], resp
msg = json.dumps({"action": "update", "deviceid": "10000bad00", "apikey": "x", "userAgent": "device",
                  "params": {"switch": "off"}, "sequence": str(int(time.time()*1000))}).encode()
mask = os.urandom(4)
hdr = bytes([0x81]) + (bytes([0x80 | len(msg)]) if len(msg) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(msg)))
s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
print("probe: update sent, holding", flush=True)
time.sleep(hold)
