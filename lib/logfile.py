"""A bounded, rotating log on flash for lib/log.py, and a redacted trace of
OCPP frames.

    lf = logfile.LogFile("data")          # data/log.txt + data/log.1.txt, 16 KB each
    log.add_sink(lf.sink)
    asyncio.create_task(lf.run())         # the writer
    rpc.trace = logfile.trace             # optional frame trace, secrets redacted
    logfile.secret(value)                 # never let this string reach the file

Size: `files` files of at most `size` bytes each (default two of 16 KB, so at
most 32 KB of flash). When the current file (log.txt) would pass `size`, the
older files move up one (log.txt -> log.1.txt -> log.2.txt ...) and the oldest
is replaced. A line longer than half the buffer is cut (ends in "...").

Heap: one bytearray of `buf` bytes (default 2 KB) allocated at start, used as a
ring. The sink copies each line into it and returns: no file I/O, no list that
grows. When the ring is full, new lines are dropped and counted, and the count
is written to the file at the next flush ("N line(s) dropped").

Why a writer task and not a write per line: a flash write can stall the CPU
(a littlefs block erase takes milliseconds), and a log call can come from the
pilot/contactor task. So the sink never touches flash; run() writes what has
piled up every flush_ms (10 s by default; at the next turn of the loop after an
ERROR line, or when the ring is three quarters full), in chunks of at most
CHUNK bytes with a yield between chunks, so other tasks run between two flash
writes. flush() does the same synchronously for shutdown and the REPL.

Why 10 s: littlefs cannot append to a block it has closed; each flush copies the
file's last block into a freshly erased one. On the RP2040 an erase is 45 ms
with interrupts masked, so a flush a second during a storm of log lines was an
erase a second. A power cut loses at most the last flush_ms of lines below ERROR.

Secrets: lines pass through a scrub that replaces every registered secret
(secret(value): the AuthorizationKey, the Wi-Fi password) by <hidden>, and
trace() redacts the value of AuthorizationKey in ChangeConfiguration frames
(and any configuration entry with that key) and "Basic <credentials>" before
the frame reaches the log at all.
"""
import os
import json
import log
from compat import ticks_ms, ticks_diff, sleep_ms, wall_known, iso

CHUNK = 256
FLUSH_MS = 10000
_HIDDEN = "<hidden>"

current = None          # the LogFile made last, for the REPL (setup.logs())
_secrets = []           # strings never written anywhere by this module
_MAX_SECRETS = 8       # the secret keys, each with a changed value or two


def secret(value):
    """Register a string that must never reach the log file or the trace."""
    if not isinstance(value, str) or len(value) < 4:
        return
    if value in _secrets:
        return
    if len(_secrets) >= _MAX_SECRETS:
        _secrets.pop(0)
    _secrets.append(value)


def forget_secrets():
    del _secrets[:]


def scrub(text):
    for s in _secrets:
        if s in text:
            text = text.replace(s, _HIDDEN)
    return text


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _size(p):
    try:
        return os.stat(p)[6]
    except OSError:
        return 0


class LogFile:
    def __init__(self, folder="data", size=16384, files=2, buf=2048, name="log",
                 flush_ms=FLUSH_MS):
        if files < 1 or size < 256 or buf < 128:
            raise ValueError("log file needs files >= 1, size >= 256, buf >= 128")
        self.folder = folder.rstrip("/") or "/"
        try:
            os.mkdir(self.folder)
        except OSError:
            pass
        self.size = size
        self.files = files
        self.name = name
        self.flush_ms = flush_ms
        self._ring = bytearray(buf)
        self._mv = memoryview(self._ring)
        self._head = 0          # first byte not yet written
        self._fill = 0          # bytes waiting
        self.max_line = buf // 2
        self.dropped = 0        # lines lost since the last flush
        self.lines = 0
        self.written = 0        # bytes written to flash, the wear budget
        self._since = None      # ticks of the oldest waiting line
        self._urgent = False
        self._wake = None       # the writer's Event, set by the sink when urgent
        self._busy = False
        self._cur = self.path(0)
        self._cur_size = _size(self._cur)
        global current
        current = self

    def path(self, i):
        p = self.folder + "/" if self.folder != "/" else "/"
        return p + self.name + (".txt" if i == 0 else ".%d.txt" % i)

    # -- the sink: RAM only ------------------------------------------------

    def sink(self, level, line):
        if wall_known():
            line = iso() + " " + line
        if _secrets:
            line = scrub(line)
        b = line.encode()
        n = len(b) + 1
        if n > self.max_line:
            b = b[:self.max_line - 4] + b"..."
            n = self.max_line
        cap = len(self._ring)
        if self._fill + n > cap:
            self.dropped += 1
            return
        tail = (self._head + self._fill) % cap
        first = min(n - 1, cap - tail)
        self._ring[tail:tail + first] = b[:first]
        if first < n - 1:
            self._ring[0:n - 1 - first] = b[first:]
        self._ring[(tail + n - 1) % cap] = 10
        self._fill += n
        self.lines += 1
        if self._since is None:
            self._since = ticks_ms()
            # The writer sleeps while nothing waits; now it has a period to time.
            if self._wake is not None:
                self._wake.set()
        if level >= log.ERROR or self._fill * 4 >= cap * 3:
            self._urgent = True
            # A burst (the frames after a reconnect) fills the ring faster than
            # a poll: wake the writer at the next turn of the loop rather than
            # drop lines.
            if self._wake is not None:
                self._wake.set()

    def pending(self):
        return self._fill

    # -- the writer ----------------------------------------------------------

    def _rotate(self):
        last = self.path(self.files - 1)
        if self.files == 1:
            _rm(last)
        else:
            _rm(last)       # FAT's rename does not replace; littlefs does either way
            for i in range(self.files - 2, -1, -1):
                src = self.path(i)
                if _exists(src):
                    os.rename(src, self.path(i + 1))
        self._cur_size = 0

    def _chunks(self, n):
        # (start, length) pieces of the n oldest waiting bytes, each <= CHUNK.
        cap = len(self._ring)
        head = self._head
        while n > 0:
            k = min(n, cap - head, CHUNK)
            yield head, k
            head = (head + k) % cap
            n -= k

    def _open(self, n):
        extra = len(self._note()) if self.dropped else 0
        if self._cur_size + n + extra > self.size:
            self._rotate()
        return open(self._cur, "ab")

    def _note(self):
        return ("... %d line(s) dropped: log buffer full\n" % self.dropped).encode()

    def _done(self, k):
        self._head = (self._head + k) % len(self._ring)
        self._fill -= k
        self._cur_size += k
        self.written += k

    def _finish(self, f):
        if self.dropped:
            note = self._note()
            f.write(note)
            self._cur_size += len(note)
            self.written += len(note)
            self.dropped = 0
        f.close()
        if self._fill == 0:
            self._since = None
            self._urgent = False
        else:
            self._since = ticks_ms()

    def flush(self):
        """Write everything waiting now (blocking; for shutdown and the REPL)."""
        n = self._fill
        if (n == 0 and not self.dropped) or self._busy:
            return 0
        self._busy = True
        try:
            f = self._open(n)
            try:
                for start, k in self._chunks(n):
                    f.write(self._mv[start:start + k])
                    self._done(k)
            finally:
                self._finish(f)
        except OSError as e:
            self._fail(e)
        finally:
            self._busy = False
        return n

    def _fail(self, e):
        # Not through log: that would come back here. The console still has it.
        print("logfile: cannot write %s: %s; lines kept in RAM" % (self._cur, e))

    def stop(self):
        """The writer task was abandoned (Ctrl-C stops the loop in the middle of
        anything): let flush() write again from the REPL."""
        self._busy = False

    def due(self):
        if self._fill == 0 and not self.dropped:
            return False
        if self._urgent:
            return True
        return self._since is None or ticks_diff(ticks_ms(), self._since) >= self.flush_ms

    async def run(self, poll_ms=200):
        import asyncio
        self._wake = ev = asyncio.Event()
        while True:
            # No timer while nothing waits: the sink wakes the writer at its
            # first line, and again when a line is urgent.
            if self._fill == 0 and not self.dropped:
                await ev.wait()
            elif not self._urgent and self._since is not None:
                left = self.flush_ms - ticks_diff(ticks_ms(), self._since)
                if left > 0:
                    try:
                        await asyncio.wait_for(ev.wait(), left / 1000)
                    except asyncio.TimeoutError:
                        pass
            ev.clear()
            await sleep_ms(0)
            if not self.due() or self._busy:
                if self._busy:
                    await sleep_ms(poll_ms)
                continue
            n = self._fill
            self._busy = True
            try:
                f = self._open(n)
                try:
                    for start, k in self._chunks(n):
                        f.write(self._mv[start:start + k])
                        self._done(k)
                        # Let the pilot and the network run between flash writes;
                        # the sink keeps adding behind the bytes being written.
                        await sleep_ms(0)
                finally:
                    self._finish(f)
            except OSError as e:
                self._fail(e)
                await sleep_ms(30000)
            finally:
                self._busy = False

    def tail(self, nbytes=1500):
        return tail(self.folder, nbytes, self.files, self.name)


def tail(folder="data", nbytes=1500, files=2, name="log"):
    """The last nbytes of the log, from whole lines (older file first when the
    current one is short); reads at most nbytes."""
    out = []
    want = nbytes
    pre = folder.rstrip("/") + "/"
    for i in range(files):
        p = pre + name + (".txt" if i == 0 else ".%d.txt" % i)
        sz = _size(p)
        if sz == 0:
            continue
        k = min(sz, want)
        f = open(p, "rb")
        try:
            f.seek(sz - k)
            out.insert(0, f.read(k))
        finally:
            f.close()
        want -= k
        if want <= 0:
            break
    data = b"".join(out)
    if want <= 0:
        # The read began inside a line: start at the next whole one.
        nl = data.find(b"\n")
        data = data[nl + 1:] if nl >= 0 else data
    try:
        return data.decode("utf-8")
    except UnicodeError:
        return "".join(chr(c) if 32 <= c < 127 or c == 10 else "?" for c in data)


def _rm(p):
    try:
        os.remove(p)
    except OSError:
        pass


# -- OCPP frame trace ----------------------------------------------------------

def _hide_entries(obj):
    # Any {"key": "AuthorizationKey", "value": ...}: ChangeConfiguration's
    # request and a GetConfiguration answer alike.
    changed = False
    if isinstance(obj, dict):
        k = obj.get("key")
        if isinstance(k, str) and k.lower() == "authorizationkey" and "value" in obj:
            obj["value"] = _HIDDEN
            changed = True
        for v in obj.values():
            if isinstance(v, (dict, list)) and _hide_entries(v):
                changed = True
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)) and _hide_entries(v):
                changed = True
    return changed


def _hide_basic(text):
    low = text.lower()
    i = low.find("basic ")
    if i < 0:
        return text
    out = []
    start = 0
    while i >= 0:
        j = i + 6
        while j < len(text) and text[j] not in "\" ,;\r\n}]":
            j += 1
        out.append(text[start:i + 6])
        out.append(_HIDDEN)
        start = j
        i = low.find("basic ", j)
    out.append(text[start:])
    return "".join(out)


def redact(text):
    """The frame with secrets replaced by <hidden>."""
    low = text.lower()
    if "authorizationkey" in low:
        try:
            obj = json.loads(text)
        except Exception:
            # Not JSON, or nested deeper than the parser goes: the text path.
            obj = None
        if obj is None:
            # Not JSON: keep what precedes the key name and nothing after it.
            i = low.find("authorizationkey")
            text = text[:i + 16] + " " + _HIDDEN
        elif _hide_entries(obj):
            text = json.dumps(obj)
    if "basic " in low:
        text = _hide_basic(text)
    if _secrets:
        text = scrub(text)
    return text


def trace(direction, text):
    """rpc.trace hook: one log line per frame, ">" sent, "<" received."""
    log.info("frame", "%s %s", direction, redact(text))
