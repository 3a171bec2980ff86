#!/usr/bin/python3
"""Interop test of proto/ with Python's msgpack (Debian python3-msgpack).

usage: /usr/bin/python3 interop.py PATH/TO/proto_interop

1. The C helper encodes one of every message, three events and a trial record; Python
   decodes each and checks every key, value, type and the key order against the
   expectations below -- written here independently of the C samples.
2. Python encodes the same expectations (plus unknown keys, which must be ignored) and a
   set of broken messages; the C helper decodes them, checks every field against its own
   samples, and checks that each broken message is refused with the expected code.
Any disagreement on any field fails the test.
"""
import math
import os
import subprocess
import sys
import tempfile

import msgpack

ID = "pvk-screen/12/3"

EXPECT = {
    "hello": {"v": 1, "type": "hello", "worker": "spincoater-1", "role": "spincoater",
              "capacity": 1, "time": 1700000000.25,
              "inflight": ["pvk-screen/1/0", "pvk-screen/2/1"]},
    "task": {"v": 1, "type": "task", "id": ID, "experiment": "pvk-screen", "trial": 12,
             "index": 3, "kind": "spincoat", "start_at": 1700000100.5,
             "params": {"rpm": 3000, "accel": 1500, "duration_s": 30.5,
                        "solution": "MAPbI3 in DMF:DMSO (4:1)", "antisolvent": True,
                        "steps": [3000, 1500, 30.5, -1],
                        "drop": {"volume_ul": 50.0, "time_s": 12.25, "temp": "25 °C"}}},
    "cancel": {"v": 1, "type": "cancel", "id": ID, "reason": "trial abandoned"},
    "ack": {"v": 1, "type": "ack", "id": ID, "state": "running"},
    "started": {"v": 1, "type": "started", "id": ID, "time": 1700000101.0},
    "progress": {"v": 1, "type": "progress", "id": ID, "fraction": 0.5,
                 "note": "step 2 of 4"},
    "finished": {"v": 1, "type": "finished", "id": ID, "time": 1700000200.75,
                 "result": {"spectrum": "/data/pl/pvk-screen_12_3.csv", "pl_intensity": 1234.5,
                            "peak_ev": 1.61, "fwhm_ev": 0.09, "counts": [1, 2, 3],
                            "ok": True}},
    "failed": {"v": 1, "type": "failed", "id": ID, "time": 1700000150.125,
               "reason": "spincoater jammed: rpm 0", "retryable": True},
    "heartbeat": {"v": 1, "type": "heartbeat", "worker": "hotplate-1", "role": "hotplate",
                  "seq": 42, "time": 1700000050.5, "inflight": 3},
    "status": {"v": 1, "type": "status", "ids": [ID, "pvk-screen/12/4"]},
    "status_reply": {"v": 1, "type": "status_reply",
                     "tasks": [{"id": ID, "state": "finished"},
                               {"id": "pvk-screen/12/4", "state": "unknown"}]},
    "error": {"v": 1, "type": "error", "code": "AXL_EMISSING",
              "msg": "task.params: required field missing"},
}

TRIAL = {"v": 1, "experiment": "pvk-screen", "index": 12, "status": "COMPLETED",
         "gen": "GP-LogEI", "step": 1, "created": 1700000000.0, "updated": 1700000300.5,
         "deployed": 1700000001.0, "deploys": 1, "job": "lab-12", "reason": None,
         "params": {"antisolvent_timing": 5.25, "spin_rpm": 3000, "solvent": "DMF:DMSO",
                    "anneal": True, "offset": -7},
         "metrics": {"pl_intensity": [1234.5, None], "fwhm_ev": [0.09, 0.005]}}

EVENTS = [
    {"v": 1, "seq": 7, "time": 1700000300.5, "type": "trial.completed",
     "experiment": "pvk-screen", "trial": 12, "rec": "trial", "body": TRIAL},
    {"v": 1, "seq": 1, "time": 1700000000.0, "type": "experiment.started",
     "experiment": "pvk-screen", "body": {"config": "examples/pvk.json", "parameters": 4}},
    {"v": 1, "seq": 99, "time": 1700009999.75, "type": "experiment.stopped",
     "experiment": "pvk-screen", "body": {"exit_status": "completed", "reason": "total_trials reached",
              "trials": 20, "completed": 18, "failed": 2}},
]

passed = 0
failed = 0


def result(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok       {name}")
    else:
        failed += 1
        print(f"MISMATCH {name}: {detail}")


def strict_diff(got, want, path):
    """First difference between got and want, with types (bool != int != float), or None."""
    if type(got) is not type(want):
        return f"{path}: {got!r} ({type(got).__name__}) != {want!r} ({type(want).__name__})"
    if isinstance(want, dict):
        if list(got.keys()) != list(want.keys()):
            return f"{path}: keys {list(got.keys())} != {list(want.keys())}"
        for k in want:
            d = strict_diff(got[k], want[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return f"{path}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            d = strict_diff(g, w, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(want, float) and math.isnan(want):
        return None if math.isnan(got) else f"{path}: {got!r} != nan"
    return None if got == want else f"{path}: {got!r} != {want!r}"


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)


def check_c_side(d):
    for name, want in EXPECT.items():
        with open(os.path.join(d, f"c_{name}.mp"), "rb") as f:
            got = unpack(f.read())
        result(strict_diff(got, want, name) is None, f"c_{name}.mp", strict_diff(got, want, name))
    for i, want in enumerate(EVENTS):
        with open(os.path.join(d, f"c_event_{i}.mp"), "rb") as f:
            got = unpack(f.read())
        diff = strict_diff(got, want, f"event{i}")
        result(diff is None, f"c_event_{i}.mp", diff)
    with open(os.path.join(d, "c_trial.mp"), "rb") as f:
        got = unpack(f.read())
    diff = strict_diff(got, TRIAL, "trial")
    result(diff is None, "c_trial.mp", diff)


def pack(obj, **kw):
    return msgpack.packb(obj, use_bin_type=True, **kw)


def with_unknown(msg):
    """The message with unknown keys before and after the known ones (must be ignored)."""
    out = {"x_py_first": {"nested": [1, None, b"\x00", {"v": 2}]}}
    out.update(msg)
    out["x_py_last"] = None
    return out


def write_python_side(d):
    for name, msg in EXPECT.items():
        with open(os.path.join(d, f"py_{name}.mp"), "wb") as f:
            f.write(pack(with_unknown(msg)))
    for i, ev in enumerate(EVENTS):
        with open(os.path.join(d, f"py_event_{i}.mp"), "wb") as f:
            f.write(pack(with_unknown(ev)))
    with open(os.path.join(d, "py_trial.mp"), "wb") as f:
        f.write(pack(with_unknown(TRIAL)))

    def changed(name, **kw):
        m = dict(EXPECT[name])
        for k, v in kw.items():
            if v is ...:
                del m[k]
            else:
                m[k] = v
        return m

    deep = 1
    for _ in range(20):
        deep = [deep]
    params_deep = 1
    for _ in range(8):
        params_deep = {"a": params_deep}
    good = pack(EXPECT["ack"])
    bad = {
        "AXL_EMISSING-ack-no-state": pack(changed("ack", state=...)),
        "AXL_EMISSING-started-time-nil": pack(changed("started", time=None)),
        "AXL_ETYPE-hello-capacity-str": pack(changed("hello", capacity="1")),
        "AXL_ETYPE-cancel-id-bin": pack(changed("cancel", id=ID.encode())),
        "AXL_ETYPE-not-a-map": pack([1, "ack"]),
        "AXL_ETYPE-params-nil": pack(changed("task", params={"x": None})),
        "AXL_ETYPE-retryable-int": pack(changed("failed", retryable=1)),
        "AXL_ERANGE-fraction": pack(changed("progress", fraction=1.5)),
        "AXL_ERANGE-time-nan": pack(changed("started", time=float("nan"))),
        "AXL_ERANGE-role": pack(changed("hello", role="oven")),
        "AXL_ERANGE-capacity-negative": pack(changed("hello", capacity=-1)),
        "AXL_ERANGE-state": pack(changed("ack", state="done")),
        "AXL_ETOOBIG-id": pack(changed("cancel", id="x" * 129)),
        "AXL_ETOOBIG-inflight": pack(changed("hello", inflight=[f"e/{i}/0" for i in range(1025)])),
        "AXL_EVERSION-v2": pack(changed("ack", v=2)),
        "AXL_ENOTSUP-type": pack(changed("ack", type="teleport")),
        "AXL_EDEPTH-deep": pack(dict(EXPECT["ack"], deep=deep)),
        "AXL_EDEPTH-params": pack(changed("task", params={"x": params_deep})),
        "AXL_EPROTO-truncated": good[:-1],
        "AXL_EPROTO-trailing": good + b"\xc0",
        "AXL_EPROTO-invalid-utf8": msgpack.packb(changed("failed", reason=b"bad \xff"),
                                                 use_bin_type=False),
        "AXL_EINVAL-task-id": pack(changed("task", id="pvk-screen/12/4")),
        "AXL_EINVAL-inflight-repeats": pack(changed("hello", inflight=["a/1/0", "a/1/0"])),
        "AXL_EINVAL-kind": pack(changed("task", kind="Spin Coat")),
    }
    for name, data in bad.items():
        with open(os.path.join(d, f"bad_{name}.mp"), "wb") as f:
            f.write(data)


def main():
    helper = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="axl-interop-") as d:
        subprocess.run([helper, "write", d], check=True)
        check_c_side(d)
        write_python_side(d)
        out = subprocess.run([helper, "read", d], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            name = line[9:].split(":")[0]
            result(line.startswith("ok "), f"C read {name}", line)
        if out.returncode != 0 and failed == 0:
            result(False, "C helper", f"exit {out.returncode}: {out.stderr}")
        if out.stderr:
            sys.stderr.write(out.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
