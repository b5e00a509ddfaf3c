# lib/jsoncheck.py on frames from a file (argv[1]: one hex frame per line),
# printing "OK" or "BAD <why>" per line, then "DONE n"; test_jsoncheck.py
# compares the verdicts with CPython's strict json. A line "DIFF ..." when the
# native scan (lib/jsonscan.py) and the Python reference disagree; the first
# line says which one check() uses.
import sys
from jsoncheck import check, check_py, fast

print("FAST" if fast else "PYTHON")

n = 0
with open(sys.argv[1]) as f:
    for line in f:
        b = bytearray(bytes.fromhex(line.strip()))
        why = check(b, len(b))
        ref = check_py(b, len(b))
        if why != ref:
            print("DIFF %r %r" % (why, ref))
        print("OK" if why is None else "BAD " + why)
        n += 1
print("DONE %d" % n)
