# URLs of file transfers (OCPP's firmware and diagnostics locations):
# scheme://[user[:password]@]host[:port][/path]. The user and password are
# percent-decoded (RFC 3986), as FTP locations often carry them.

PORTS = {"http": 80, "https": 443, "ftp": 21}


class URLError(ValueError):
    pass


def unquote(s):
    if "%" not in s:
        return s
    out = bytearray()
    b = s.encode()
    i = 0
    while i < len(b):
        if b[i] == 37 and i + 3 <= len(b):
            try:
                out.append(int(b[i + 1:i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(b[i])
        i += 1
    return out.decode()


def parse(url, schemes=("http", "https", "ftp")):
    """(scheme, host, port, path, user, password); URLError saying why not."""
    i = url.find("://") if isinstance(url, str) else -1
    scheme = url[:i].lower() if i > 0 else ""
    if scheme not in schemes:
        raise URLError("unsupported location %r: it must start with %s" % (
            str(url)[:60], " or ".join(s + "://" for s in schemes)))
    rest = url[i + 3:].split("#", 1)[0]
    j = rest.find("/")
    hostport, path = (rest, "/") if j < 0 else (rest[:j], rest[j:])
    user = password = None
    if "@" in hostport:
        cred, hostport = hostport.rsplit("@", 1)
        user, _, password = cred.partition(":")
        user, password = unquote(user), unquote(password)
    host, _, port = hostport.partition(":")
    if host.startswith("[") or " " in path or "\r" in path or "\n" in path:
        raise URLError("bad location %r: IPv6 literals and white space are not supported"
                       % url[:60])
    try:
        port = int(port) if port else PORTS[scheme]
    except ValueError:
        port = 0
    if not host or not 0 < port < 65536:
        raise URLError("bad location %r: bad host or port" % url[:60])
    return scheme, host, port, path, user, password
