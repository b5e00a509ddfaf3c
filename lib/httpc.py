# A streaming HTTP/1.1 client for file transfers: GET a file into a sink chunk
# by chunk (Content-Length, chunked, or to the end of the stream), PUT or POST
# a file from flash. Basic auth from the URL's user:password, up to three
# redirects. Every failure is a TransferError with one line that says why.
import binascii
from url import parse
from netconn import Conn, TransferError

_REDIRECT = (301, 302, 303, 307, 308)
_CHUNK = 1024


def _request(method, host, port, secure, path, user, password, extra):
    lines = ["%s %s HTTP/1.1" % (method, path),
             "Host: " + host + ("" if port == (443 if secure else 80) else ":%d" % port),
             "User-Agent: ocpp-evse", "Connection: close"]
    if user is not None:
        cred = binascii.b2a_base64(("%s:%s" % (user, password or "")).encode())[:-1]
        lines.append("Authorization: Basic " + cred.decode())
    return ("\r\n".join(lines + extra) + "\r\n\r\n").encode()


async def _head(c):
    line = await c.readline("the HTTP answer")
    parts = line.split(None, 2)
    try:
        status = int(parts[1]) if parts[0].startswith("HTTP/") else 0
    except (ValueError, IndexError):
        status = 0
    if not status:
        raise TransferError("protocol", "%s did not answer HTTP: %r" % (c.host, line[:60]))
    h = {}
    for _ in range(64):
        name, _s, value = (await c.readline("the HTTP header")).partition(":")
        if not name:
            return status, h
        name = name.strip().lower()
        if name in ("content-length", "transfer-encoding", "location"):
            h[name] = value.strip()
    raise TransferError("protocol", "too many header lines from %s" % c.host)


def _check(status, url):
    if 200 <= status < 300:
        return
    kind = {401: "auth", 403: "auth", 404: "notfound", 405: "refused", 501: "refused"}.get(
        status, "refused")
    raise TransferError(kind, "%s answered HTTP %d%s" % (url[:80], status, {
        401: " (unauthorized: check the user and password in the URL)", 403: " (forbidden)",
        404: " (not found)", 405: " (method not allowed)"}.get(status, "")))


async def _exactly(c, n, buf, sink, what):
    mv = memoryview(buf)
    while n > 0:
        k = await c.readinto(mv[:min(n, len(mv))])
        if not k:
            raise TransferError("closed", "%s: %s closed the connection %d bytes early"
                                % (what, c.host, n))
        sink(mv[:k])
        n -= k


async def _body(c, h, sink, buf):
    if "chunked" in h.get("transfer-encoding", "").lower():
        total = 0
        while True:
            line = await c.readline("a chunk's size")
            try:
                n = int(line.split(";")[0].strip(), 16)
            except ValueError:
                raise TransferError("protocol", "bad chunk size %r from %s" % (line[:20], c.host))
            if not n:
                while await c.readline("the trailer"):
                    pass
                return total
            await _exactly(c, n, buf, sink, "chunked body")
            total += n
            await c.readline("a chunk's end")
    if "content-length" in h:
        try:
            n = int(h["content-length"])
        except ValueError:
            raise TransferError("protocol", "bad Content-Length from %s" % c.host)
        await _exactly(c, n, buf, sink, "body of %d bytes" % n)
        return n
    total = 0
    mv = memoryview(buf)
    while True:
        k = await c.readinto(mv)
        if not k:
            return total
        sink(mv[:k])
        total += k


def _join(url, loc):
    if "://" in loc:
        return loc
    i = url.find("/", url.find("://") + 3)
    base = url if i < 0 else url[:i]
    return base + (loc if loc.startswith("/") else "/" + loc)


async def get(url, sink, ctx=None, timeout_s=30):
    """GET url; sink(memoryview) takes the body chunk by chunk (copy what you
    keep). Returns the body's length."""
    buf = bytearray(_CHUNK)
    for _ in range(4):
        scheme, host, port, path, user, pw = parse(url, ("http", "https"))
        if scheme == "https" and ctx is None:
            raise TransferError("local", "https:// needs TLS, which this charger lacks")
        c = Conn(timeout_s)
        await c.open(host, port, ctx if scheme == "https" else None)
        try:
            await c.write(_request("GET", host, port, scheme == "https", path, user, pw, []))
            status, h = await _head(c)
            if status in _REDIRECT and h.get("location"):
                url = _join(url, h["location"])
                continue
            _check(status, url)
            return await _body(c, h, sink, buf)
        finally:
            await c.close()
    raise TransferError("protocol", "more than 3 redirects from %s" % url[:80])


async def send(url, path, size, name, ctx=None, timeout_s=30, method="PUT"):
    """Upload the local file `path` (size bytes): PUT to url, or POST to url as
    multipart/form-data (field "file", filename `name`)."""
    scheme, host, port, upath, user, pw = parse(url, ("http", "https"))
    if scheme == "https" and ctx is None:
        raise TransferError("local", "https:// needs TLS, which this charger lacks")
    pre = post = b""
    if method == "POST":
        bound = "----ocpp-evse-" + binascii.hexlify(name.encode()[-8:]).decode()
        pre = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n" % (bound, name)).encode()
        post = ("\r\n--%s--\r\n" % bound).encode()
        ctype = "multipart/form-data; boundary=" + bound
    else:
        ctype = "application/octet-stream"
    c = Conn(timeout_s)
    await c.open(host, port, ctx if scheme == "https" else None)
    try:
        await c.write(_request(method, host, port, scheme == "https", upath, user, pw,
                               ["Content-Type: " + ctype,
                                "Content-Length: %d" % (len(pre) + size + len(post))]))
        if pre:
            await c.write(pre)
        await c.send_file(path, size)
        if post:
            await c.write(post)
        status, _h = await _head(c)
        _check(status, url)
        return status
    finally:
        await c.close()
