# A passive-mode FTP client (RFC 959), the form OCPP's locations use:
# ftp://user:password@host:port/path, the user and password optional
# (anonymous), the path relative to the login folder (RFC 1738). Binary mode;
# the data connection goes to the control connection's host, whatever address
# the server's PASV answer names (servers behind NAT name their inner one).
from url import parse, unquote
from netconn import Conn, TransferError


async def _reply(c):
    # (code, text) of one reply; a multi-line one ends with "<code> ".
    line = await c.readline("the FTP reply")
    code = line[:3]
    if len(line) > 3 and line[3] == "-":
        while True:
            nxt = await c.readline("the FTP reply")
            if nxt[:3] == code and nxt[3:4] != "-":
                break
    try:
        return int(code), line[4:]
    except ValueError:
        raise TransferError("protocol", "%s did not answer FTP: %r" % (c.host, line[:60]))


async def _cmd(c, text, ok):
    if text is not None:
        await c.write((text + "\r\n").encode())
    code, msg = await _reply(c)
    if code not in ok:
        what = text.split(" ")[0] if text else "greeting"
        kind = "auth" if code == 530 else "notfound" if code == 550 else "refused"
        raise TransferError(kind, "FTP %s refused by %s: %d %s" % (what, c.host, code, msg[:80]))
    return code, msg


async def _session(url, timeout_s):
    _s, host, port, path, user, pw = parse(url, ("ftp",))
    c = Conn(timeout_s)
    await c.open(host, port)
    await _cmd(c, None, (220,))
    code, _m = await _cmd(c, "USER " + (user or "anonymous"), (230, 331))
    if code == 331:
        await _cmd(c, "PASS " + (pw if user else "evse@"), (230, 202))
    await _cmd(c, "TYPE I", (200,))
    _c, msg = await _cmd(c, "PASV", (227,))
    try:
        nums = msg[msg.index("(") + 1:msg.index(")")].split(",")
        dport = int(nums[4]) * 256 + int(nums[5])
    except (ValueError, IndexError):
        raise TransferError("protocol", "cannot read the PASV answer of %s: %r" % (host, msg[:60]))
    d = Conn(timeout_s)
    await d.open(host, dport)
    return c, d, unquote(path.lstrip("/"))


async def _end(c, d):
    await d.close()
    await _cmd(c, None, (226, 250))
    try:
        await c.write(b"QUIT\r\n")
    except TransferError:
        pass


async def retr(url, sink, timeout_s=30):
    """Download url; sink(memoryview) takes it chunk by chunk. Returns the size."""
    c, d, path = await _session(url, timeout_s)
    try:
        await _cmd(c, "RETR " + path, (125, 150))
        buf = bytearray(1024)
        mv = memoryview(buf)
        total = 0
        while True:
            k = await d.readinto(mv)
            if not k:
                break
            sink(mv[:k])
            total += k
        await _end(c, d)
        return total
    finally:
        await d.close()
        await c.close()


async def stor(url, path, size, timeout_s=30):
    """Upload the local file `path` (size bytes) as url."""
    c, d, rpath = await _session(url, timeout_s)
    try:
        await _cmd(c, "STOR " + rpath, (125, 150))
        await d.send_file(path, size)
        await _end(c, d)
    finally:
        await d.close()
        await c.close()
