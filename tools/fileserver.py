#!/usr/bin/env python3
"""A small HTTP(S) file server for updates and diagnostics, on 127.0.0.1: GET
serves the files of a folder (firmware bundles), PUT and POST store uploads
(diagnostics files) in its uploads/ folder. For tests and for trying an update
by hand (make run ARGS=--interactive, `update`).

    python tools/fileserver.py [--dir DIR] [--port 8000] [--cert C --key K]

From code:
    srv = FileServer(folder, ssl_context=None).start()   srv.url  http://127.0.0.1:PORT
    srv.cut_after = n     GET answers the whole Content-Length, then closes after n bytes
    srv.stall_after = n   ... or stops sending after n bytes and keeps the connection
    srv.requests          [(method, path)], srv.uploads(): {name: bytes}
    srv.stop()
"""
import argparse
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _file(self):
        rel = self.path.split("?", 1)[0].lstrip("/")
        if ".." in rel.split("/"):
            return None
        return os.path.join(self.server.folder, *rel.split("/"))

    def do_GET(self):
        srv = self.server
        srv.requests.append(("GET", self.path))
        p = self._file()
        if p is None or not os.path.isfile(p):
            self.send_error(404, "no such file")
            return
        with open(p, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        limit = srv.cut_after if srv.cut_after is not None else srv.stall_after
        if limit is None:
            self.wfile.write(data)
            return
        self.wfile.write(data[:limit])
        self.wfile.flush()
        if srv.stall_after is not None:
            end = time.time() + srv.stall_s
            while time.time() < end and not srv.stopping:
                time.sleep(0.1)
        self.close_connection = True

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n)

    def _store(self, name, data):
        d = os.path.join(self.server.folder, "uploads")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, os.path.basename(name)), "wb") as f:
            f.write(data)

    def do_PUT(self):
        self.server.requests.append(("PUT", self.path))
        if self.server.refuse_put:
            self._body()
            self.send_error(405, "use POST")
            return
        self._store(self.path.rstrip("/").rsplit("/", 1)[-1], self._body())
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        self.server.requests.append(("POST", self.path))
        body = self._body()
        ctype = self.headers.get("Content-Type", "")
        name, data = "upload", body
        if "boundary=" in ctype:
            bound = ("--" + ctype.split("boundary=", 1)[1]).encode()
            part = body.split(bound)[1]
            head, _, data = part.partition(b"\r\n\r\n")
            data = data[:-2]
            for line in head.decode().split("\r\n"):
                if "filename=" in line:
                    name = line.split("filename=", 1)[1].strip('"')
        self._store(name, data)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class FileServer:
    def __init__(self, folder, port=0, ssl_context=None):
        self.folder = folder
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        h = self.httpd
        h.folder = folder
        h.requests = []
        h.cut_after = h.stall_after = None
        h.stall_s = 60
        h.refuse_put = False
        h.stopping = False
        if ssl_context is not None:
            h.socket = ssl_context.wrap_socket(h.socket, server_side=True)
        self.port = h.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if ssl_context else "http", self.port)
        self._thread = None

    def __getattr__(self, name):
        if name in ("requests", "cut_after", "stall_after", "stall_s", "refuse_put"):
            return getattr(self.httpd, name)
        raise AttributeError(name)

    def __setattr__(self, name, value):
        if name in ("cut_after", "stall_after", "stall_s", "refuse_put"):
            setattr(self.httpd, name, value)
        else:
            object.__setattr__(self, name, value)

    def uploads(self):
        d = os.path.join(self.folder, "uploads")
        out = {}
        for n in os.listdir(d) if os.path.isdir(d) else ():
            with open(os.path.join(d, n), "rb") as f:
                out[n] = f.read()
        return out

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.httpd.stopping = True
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=".", help="folder to serve (uploads go to DIR/uploads)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--cert", help="TLS certificate (PEM) for https")
    ap.add_argument("--key", help="its key")
    a = ap.parse_args(argv)
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
    srv = FileServer(os.path.abspath(a.dir), a.port, ctx)
    print("serving %s on %s" % (a.dir, srv.url), flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
