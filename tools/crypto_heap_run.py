# The heap side of tools/crypto_bench.py, run on MicroPython with -X heapsize=
# and the modules as .mpy files, as a board loads them. argv[1]: the scenario,
# argv[2]: a directory with leaf.der, sub.der and root.der (an EC leaf below an
# RSA-2048 sub-CA below an EC root). Prints "H name bytes" figures and OK, or
# dies of MemoryError when the heap is too small.
#   none            nothing: the interpreter's own need, to subtract
#   chain           read the three certificates and validate the path
#   ec_keygen_csr   make a P-256 key and its certificate request (PEM)
#   rsa_keygen_csr  make an RSA-2048 key and its certificate request (PEM)
import gc
import os
import sys

scenario, folder = sys.argv[1], sys.argv[2]
gc.collect()
base = gc.mem_alloc()


def read(name):
    # Into a buffer of the file's size: read() of a whole file grows its
    # buffer step by step, which alone needed 10 KB more heap than the file.
    b = bytearray(os.stat(folder + "/" + name)[6])
    with open(folder + "/" + name, "rb") as f:
        f.readinto(b)
    return b


if scenario == "chain":
    import certpath
elif scenario == "ec_keygen_csr":
    import csr
    import ecdsa
elif scenario == "rsa_keygen_csr":
    import csr
    import rsagen
gc.collect()
imported = gc.mem_alloc()
if scenario == "chain":
    path = certpath.validate([read("leaf.der"), read("sub.der")], [read("root.der")],
                             int(sys.argv[3]))
    assert len(path) == 3
elif scenario == "ec_keygen_csr":
    key = ecdsa.generate()
    req = csr.build_pem(key, "CP-0001", "Test CPO")
elif scenario == "rsa_keygen_csr":
    key = rsagen.generate()
    req = csr.build_pem(key, "CP-0001", "Test CPO")
gc.collect()
print("H imports %d" % (imported - base))
print("H retained %d" % (gc.mem_alloc() - imported))
print("OK")
