"""A stand-in API server for the credential broker's tests: HTTPS on ADDR:PORT with the
certificate CERT (key KEY), run in a network namespace the test makes. It records the
headers of every request, one JSON line each, into LOG, and answers:

- GET /REPO.git/info/refs?service=git-upload-pack: git's smart HTTP, for `git ls-remote`;
  only with Basic credentials whose password is TOKEN (401 with a Basic challenge otherwise);
- GET /bytes/N: N bytes (a download to measure);
- anything else: 200 and `ok`.

socketserver, not http.server's HTTPServer: that one looks its own address up by name, and
nothing here may send a query anywhere.

usage: stand_in_api.py ADDR PORT CERT KEY LOG TOKEN
"""

import base64
import json
import socketserver
import ssl
import sys
from http.server import BaseHTTPRequestHandler

ADDR, PORT, CERT, KEY, LOG, TOKEN = sys.argv[1:7]
SHA = "1" * 40


def pkt(line):
    data = line.encode()
    return b"%04x" % (len(data) + 4) + data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers.items())}) + "\n")
        if "/info/refs" in self.path:
            auth = self.headers.get("Authorization", "")
            ok = False
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                ok = password == TOKEN
            if not ok:
                self.reply(401, b"credentials, please\n", extra=[("WWW-Authenticate", 'Basic realm="stand-in"')])
                return
            body = pkt("# service=git-upload-pack\n") + b"0000"
            body += pkt(SHA + " HEAD\0multi_ack side-band-64k ofs-delta symref=HEAD:refs/heads/main\n")
            body += pkt(SHA + " refs/heads/main\n") + b"0000"
            self.reply(200, body, "application/x-git-upload-pack-advertisement")
            return
        if self.path.startswith("/bytes/"):
            n = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            while n > 0:
                self.wfile.write(chunk[: min(n, len(chunk))])
                n -= len(chunk)
            return
        self.reply(200, b"ok\n")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv = Server((ADDR, int(PORT)), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
