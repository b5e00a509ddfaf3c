# The parts of the WebSocket opening handshake that need no socket: URL
# parsing, the request lines, the accept key and one-line error messages.
# Kept apart from ws.py so each stays small; ws.py re-exports the public names.
import binascii
import hashlib
import errno

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

class WSError(Exception):
    pass


class HandshakeError(WSError):
    """The connection could not be set up; status is the HTTP code or None."""

    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status


def _b(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def join_url(base, ident):
    """base URL + '/' + the charge point identity, percent-encoded (RFC 3986)."""
    if not isinstance(ident, str) or not ident:
        raise WSError("the charge point identity must be a non-empty string")
    out = []
    for byte in ident.encode():
        c = chr(byte)
        keep = "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "-._~"
        out.append(c if keep else "%%%02X" % byte)
    return base + ("" if base.endswith("/") else "/") + "".join(out)


def parse_url(url):
    """'ws[s]://host[:port][/path]' -> (secure, host, port, path as given)."""
    i = url.find("://") if isinstance(url, str) else -1
    scheme = url[:i].lower() if i > 0 else ""
    if scheme not in ("ws", "wss"):
        raise WSError("bad URL %r: it must start with ws:// or wss://" % (url,))
    rest = url[i + 3:].split("#", 1)[0]
    j = len(rest)
    for sep in "/?":
        k = rest.find(sep)
        j = k if 0 <= k < j else j
    hostport, path = rest[:j], rest[j:]
    path = path if path.startswith("/") else "/" + path
    if "@" in hostport or " " in path or "\r" in path or "\n" in path:
        raise WSError("bad URL %r: no credentials or white space allowed" % (url,))
    host, _, port = hostport.partition(":")
    try:
        port = int(port) if port else (443 if scheme == "wss" else 80)
    except ValueError:
        port = 0
    if not host or not 0 < port < 65536:
        raise WSError("bad URL %r: bad host or port" % (url,))
    return scheme == "wss", host, port, path


def _accept(key):
    return binascii.b2a_base64(hashlib.sha1(key + _GUID).digest())[:-1]


def _status_msg(status, reason):
    name = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status) or \
        "".join([c for c in reason[:60] if " " <= c <= "~"]).strip()
    hint = "; check the charge point identity and password" if status in (401, 403) else \
        "; check the central system URL and the charge point identity" if status == 404 else ""
    return "server refused the WebSocket: %d %s%s" % (status, name, hint)


def _errstr(e):
    code = getattr(e, "errno", None)
    name = {errno.ECONNREFUSED: "connection refused", errno.ECONNRESET: "connection reset",
            errno.ETIMEDOUT: "timed out", errno.EHOSTUNREACH: "host unreachable"}.get(code)
    if name:
        return "%s (errno %d)" % (name, code)
    return str(e) or type(e).__name__


def _request(host, port, secure, path, subprotocol, auth, headers):
    # Checked before any socket is opened; the key is filled in per attempt.
    lines = ["GET %s HTTP/1.1" % path, "Host: " + host +
             ("" if port == (443 if secure else 80) else ":%d" % port),
             "Upgrade: websocket", "Connection: Upgrade", None, "Sec-WebSocket-Version: 13"]
    if subprotocol:
        lines.append("Sec-WebSocket-Protocol: " + subprotocol)
    if auth:
        try:
            user, password = _b(auth[0]), _b(auth[1])
        except Exception:
            raise WSError("auth must be a (user, password) pair")
        if b":" in user:
            raise WSError("the Basic auth user name must not contain ':'")
        lines.append("Authorization: Basic " +
                     binascii.b2a_base64(user + b":" + password)[:-1].decode())
    for name, value in headers or ():
        line = "%s: %s" % (name, value)
        if "\r" in line or "\n" in line or not name:
            raise WSError("bad extra header %r" % (name,))
        lines.append(line)
    return lines
