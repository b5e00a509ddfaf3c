# The PASS/FAIL lines of the crypto check scripts (crypto_*_check.py), which
# test_crypto_*.py read through mprun.cases.
results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


def refused(name, fn, words):
    """fn() must raise ValueError whose message holds `words`: not accept,
    and not fail in any other way."""
    try:
        fn()
    except ValueError as e:
        expect(name, words in str(e), str(e))
        return
    except Exception as e:
        expect(name, False, "raised %s: %s" % (type(e).__name__, e))
        return
    expect(name, False, "accepted")


def done():
    print("DONE %d" % len(results))
