# File transfers by location: http:// and https:// (lib/httpc.py), ftp://
# (lib/ftpc.py, passive). What SupportedFileTransferProtocols lists.
# tls() makes the TLS context of an https:// transfer (the charger's, with
# the central system's CA when one is installed: firmware/main.py).
from url import parse
from netconn import TransferError
import httpc
import ftpc

def _scheme(location):
    try:
        return parse(location)[0]
    except ValueError as e:
        raise TransferError("local", str(e))


async def download(location, sink, tls=None, timeout_s=30):
    scheme = _scheme(location)
    if scheme == "ftp":
        return await ftpc.retr(location, sink, timeout_s)
    return await httpc.get(location, sink, tls() if scheme == "https" and tls else None,
                           timeout_s)


async def upload(location, name, path, size, tls=None, timeout_s=30):
    """The local file `path` into the folder `location`, as `name`: FTP STOR,
    or HTTP PUT, then POST (multipart) when the server does not take PUT."""
    url = location + ("" if location.endswith("/") else "/") + name
    scheme = _scheme(location)
    if scheme == "ftp":
        return await ftpc.stor(url, path, size, timeout_s)
    ctx = tls() if scheme == "https" and tls else None
    try:
        return await httpc.send(url, path, size, name, ctx, timeout_s, "PUT")
    except TransferError as e:
        if e.kind != "refused":
            raise
    return await httpc.send(location, path, size, name, ctx, timeout_s, "POST")
