# How a small file's replace costs flash on the emulated RP2040's littlefs:
#   python tools/chip/run.py tools/chip/lfs_replace.py
# 100 replaces of a 150-byte file, as store.replace does them (a .tmp written,
# then renamed over the file) and as a rewrite in place (littlefs commits a
# file at close, copy-on-write, so the old contents stay until then), each in
# a folder beside 12 small files and in a folder of its own. A replace over
# 30 ms is one that waited for a sector erase (45 ms with interrupts masked).
import os, time
def w(p, n):
    f = open(p, "wb"); f.write(b"x" * n); f.close()
def rep(d, name, n):
    t = time.ticks_us()
    w(d + name + ".tmp", n)
    os.rename(d + name + ".tmp", d + name)
    return time.ticks_diff(time.ticks_us(), t)
try:
    os.mkdir("/exp")
except OSError:
    pass
try:
    os.mkdir("/exp/hot")
except OSError:
    pass
for i in range(12):
    w("/exp/f%d" % i, 200)
for label, d in (("same folder as 12 inline files", "/exp/"), ("own folder", "/exp/hot/")):
    slow = 0; tot = 0; mx = 0
    for i in range(100):
        us = rep(d, "txq", 150)
        tot += us; mx = max(mx, us)
        if us > 30000:
            slow += 1
    print("%s: 100 replaces, %d over 30 ms, total %d ms, max %d ms" % (label, slow, tot // 1000, mx // 1000))
def direct(d, name, n):
    t = time.ticks_us()
    w(d + name, n)
    return time.ticks_diff(time.ticks_us(), t)
for label, d in (("in place, same folder", "/exp/"), ("in place, own folder", "/exp/hot/")):
    slow = 0; tot = 0; mx = 0
    for i in range(100):
        us = direct(d, "txq", 150)
        tot += us; mx = max(mx, us)
        if us > 30000:
            slow += 1
    print("%s: 100 rewrites, %d over 30 ms, total %d ms, max %d ms" % (label, slow, tot // 1000, mx // 1000))
