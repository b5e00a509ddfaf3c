# PEM armour (RFC 7468): base64 between "-----BEGIN <label>-----" and
# "-----END <label>-----" lines. OCPP carries certificates, chains and
# certificate requests as PEM text inside JSON; MicroPython's TLS wants DER.
# For a file too big for the heap (a bundle of public roots) see
# firmware/cacert.py, which reads one line at a time.
import binascii


def encode(der, label="CERTIFICATE"):
    """PEM text of the DER bytes, 64 characters a line, ending with a newline."""
    b64 = binascii.b2a_base64(der).replace(b"\n", b"")
    lines = ["-----BEGIN %s-----" % label]
    for i in range(0, len(b64), 64):
        lines.append(str(b64[i:i + 64], "ascii"))
    lines.append("-----END %s-----\n" % label)
    return "\n".join(lines)


def decode(text, label="CERTIFICATE", limit=8):
    """The DER bytes of each block with this label in the text (str or bytes),
    in order; text outside the blocks is ignored. ValueError, naming the block,
    when a block is unterminated or not base64, when there is none, or when
    there are more than `limit`."""
    if not isinstance(text, str):
        try:
            text = str(text, "utf-8")
        except UnicodeError:
            raise ValueError("PEM: not text")
    begin = "-----BEGIN %s-----" % label
    end = "-----END %s-----" % label
    out = []
    pos = text.find(begin)
    while pos >= 0:
        if len(out) == limit:
            raise ValueError("PEM: more than %d %s blocks" % (limit, label))
        s = pos + len(begin)
        e = text.find(end, s)
        if e < 0:
            raise ValueError("PEM: %s block %d has no END line" % (label, len(out) + 1))
        body = "".join(text[s:e].split())
        if len(body) % 4 or not body:
            raise ValueError("PEM: %s block %d is not base64" % (label, len(out) + 1))
        try:
            der = binascii.a2b_base64(body)
        except ValueError:
            der = None
        # The decoders skip characters outside the alphabet: encoding again
        # and comparing, in C, catches them (and non-canonical padding).
        if der is None or binascii.b2a_base64(der)[:-1] != body.encode():
            raise ValueError("PEM: %s block %d is not base64" % (label, len(out) + 1))
        out.append(der)
        pos = text.find(begin, e + len(end))
    if not out:
        raise ValueError("PEM: no %s block" % label)
    return out
