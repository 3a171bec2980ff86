#!/usr/bin/python3
"""Stream conformance: a client written from proto/README.md alone (sections 1-4, 7, 8,
12, 14, 15), with no axle C code on its side of the wire.

usage: /usr/bin/python3 conformance.py PATH/TO/axle

Python's msgpack (Debian python3-msgpack) and libnng.so.1 through ctypes. It:
1. starts a real `axle run` of a short function campaign whose last trial hangs (the
   function runner's scripted outcome "H"), so the campaign lives until this client has
   seen everything and ends it through the control socket (section 12);
2. dials the live PUB stream first, then pages the replay service from seq 1 (section 14:
   small pages, so that paging is exercised), then follows the live stream, dropping seqs
   already seen, filling gaps from replay, and asking replay for the tail after a quiet
   spell;
3. checks the replay service's error replies (section 14) while it runs;
4. folds trial records from the events (section 7's rec rule) and, once the campaign has
   ended, checks every trial's status, reason, generation method, parameters and metric
   against `axle export NAME --json`, and experiment.stopped's counters against the fold.
Exit 0 pass, 1 fail, 77 skipped (python3-msgpack missing).
"""
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time

try:
    import msgpack
except ImportError:
    print("SKIPPED: python3-msgpack is not installed (apt-get install python3-msgpack; "
          "scripts/bootstrap installs it)")
    sys.exit(77)

NAME = "conformance"
TOTAL = 10
OUTCOMES = "CCFCCCFCCH"  # two failures; the tenth deployed trial hangs until we end it
DEADLINE_S = 60.0

# --- nng through ctypes (nng.h of libnng 1.5) ---------------------------------------------


class Socket(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


NNG_FLAG_ALLOC = 1
NNG_FLAG_NONBLOCK = 2
NNG_ETIMEDOUT = 5

nng = ctypes.CDLL("libnng.so.1")
nng.nng_strerror.restype = ctypes.c_char_p
nng.nng_strerror.argtypes = [ctypes.c_int]
for fn in ("nng_sub0_open", "nng_req0_open"):
    getattr(nng, fn).argtypes = [ctypes.POINTER(Socket)]
nng.nng_socket_set.argtypes = [Socket, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
nng.nng_socket_set_ms.argtypes = [Socket, ctypes.c_char_p, ctypes.c_int32]
nng.nng_socket_set_size.argtypes = [Socket, ctypes.c_char_p, ctypes.c_size_t]
nng.nng_dial.argtypes = [Socket, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
nng.nng_send.argtypes = [Socket, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
nng.nng_recv.argtypes = [Socket, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_int]
nng.nng_free.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
nng.nng_close.argtypes = [Socket]


class NngError(Exception):
    def __init__(self, what, rv):
        super().__init__(f"{what}: {nng.nng_strerror(rv).decode()}")
        self.rv = rv


def check(what, rv):
    if rv != 0:
        raise NngError(what, rv)


def open_socket(kind, url, recv_ms):
    s = Socket()
    check(kind, getattr(nng, f"nng_{kind}0_open")(ctypes.byref(s)))
    if kind == "sub":
        check("subscribe", nng.nng_socket_set(s, b"sub:subscribe", None, 0))
    check("recv-timeout", nng.nng_socket_set_ms(s, b"recv-timeout", recv_ms))
    check("send-timeout", nng.nng_socket_set_ms(s, b"send-timeout", 5000))
    check("recv-size-max", nng.nng_socket_set_size(s, b"recv-size-max", 1 << 20))
    # The engine may not have bound yet: a non-blocking dial keeps reconnecting.
    check("reconnect", nng.nng_socket_set_ms(s, b"reconnect-time-min", 10))
    check("reconnect", nng.nng_socket_set_ms(s, b"reconnect-time-max", 50))
    check(f"dial {url}", nng.nng_dial(s, url.encode(), None, NNG_FLAG_NONBLOCK))
    return s


def send(s, data):
    buf = ctypes.create_string_buffer(data, len(data))
    check("send", nng.nng_send(s, buf, len(data), 0))


def recv(s):
    """One message's bytes, or None on a receive timeout."""
    p = ctypes.c_void_p()
    n = ctypes.c_size_t()
    rv = nng.nng_recv(s, ctypes.byref(p), ctypes.byref(n), NNG_FLAG_ALLOC)
    if rv == NNG_ETIMEDOUT:
        return None
    check("recv", rv)
    data = ctypes.string_at(p, n.value)
    nng.nng_free(p, n.value)
    return data


# --- the protocol, from proto/README.md -----------------------------------------------------


def unpack(body):
    """Section 1: one msgpack map, str keys; section 3: v must be 1."""
    m = msgpack.unpackb(body, raw=False, strict_map_key=True)
    assert isinstance(m, dict), f"not a map: {m!r}"
    assert m.get("v") == 1, f"v is not 1: {m!r}"
    return m


def pack(msg):
    return msgpack.packb(msg, use_bin_type=True)


def request(req_sock, msg):
    send(req_sock, msg if isinstance(msg, bytes) else pack(msg))
    body = recv(req_sock)
    assert body is not None, f"no reply to {msg!r}"
    return unpack(body)


class Client:
    """Section 14's subscriber: PUB first, replay from 1, then live with de-dup and gaps."""

    def __init__(self, store):
        self.sub = open_socket("sub", f"ipc://{store}/events.pub", 200)
        self.rep = open_socket("req", f"ipc://{store}/replay.rep", 10000)
        self.events = []  # in seq order, each seen exactly once
        self.pages = 0
        self.gaps = 0

    @property
    def next(self):
        return len(self.events) + 1

    def take(self, ev):
        for key in ("seq", "time", "type", "experiment", "body"):
            assert key in ev, f"event without {key}: {ev!r}"
        assert ev["seq"] == self.next, f"seq {ev['seq']} where {self.next} was due"
        assert isinstance(ev["body"], dict)
        self.events.append(ev)

    def replay(self, to=0, page=7):
        """Pages [next, to] (to 0 = the last event at each request)."""
        while True:
            r = request(self.rep, {"v": 1, "type": "replay", "from": self.next, "to": to,
                                   "max": page})
            assert r["type"] == "replay_reply", f"replay answered {r!r}"
            assert isinstance(r["last_seq"], int) and isinstance(r["more"], bool)
            self.pages += 1
            assert len(r["events"]) <= page
            for ev in r["events"]:
                assert isinstance(ev, dict) and ev.get("v") == 1, ev
                self.take(ev)
            if not r["more"]:
                return
            assert r["events"], "more: true with no events"

    def follow(self, until):
        """Live events until until(events) holds (or the deadline)."""
        quiet = 0
        while not until(self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out with {len(self.events)} events")
            body = recv(self.sub)
            if body is None:
                # A lost last event leaves no later seq to show the gap: after a quiet
                # second ask replay for the tail (while the campaign runs, it answers).
                quiet += 1
                if quiet % 5 == 0:
                    self.replay()
                continue
            quiet = 0
            ev = unpack(body)
            if ev["seq"] < self.next:
                continue  # already seen (from replay)
            if ev["seq"] > self.next:
                self.gaps += 1
                self.replay(to=ev["seq"] - 1)
            self.take(ev)


def fold(events):
    """Section 7: per entity, the body of its last event with rec."""
    trials, records = {}, {}
    for ev in events:
        rec = ev.get("rec")
        if rec is None:
            continue
        assert rec in ("trial", "experiment", "generator", "labware"), rec
        if rec == "trial":
            body = ev["body"]
            assert body["v"] == 1 and body["experiment"] == ev["experiment"]
            assert body["index"] == ev["trial"]
            assert list(body) == ["v", "experiment", "index", "status", "gen", "step",
                                  "created", "updated", "deployed", "deploys", "job",
                                  "reason", "params", "metrics"], list(body)
            trials[ev["trial"]] = body
        else:
            records[(rec, ev["experiment"])] = ev["body"]
    return trials, records


TERMINAL = ("COMPLETED", "FAILED", "ABANDONED", "EARLY_STOPPED")


def hung_trial(events):
    """The index of the one RUNNING trial once every other is terminal, else None."""
    trials, _ = fold(events)
    if len(trials) != TOTAL:
        return None
    running = [i for i, t in trials.items() if t["status"] == "RUNNING"]
    done = [i for i, t in trials.items() if t["status"] in TERMINAL]
    return running[0] if len(running) == 1 and len(done) == TOTAL - 1 else None


def check_replay_errors(rep):
    """Section 14's error replies, against the live service."""
    cases = [
        ({"v": 1, "type": "replay", "from": 5, "to": 3}, "AXL_ERANGE"),
        ({"v": 2, "type": "replay"}, "AXL_EVERSION"),
        ({"type": "replay"}, "AXL_EMISSING"),
        ({"v": 1, "type": "subscribe"}, "AXL_ENOTSUP"),
        ({"v": 1, "type": "replay", "from": -1}, "AXL_ERANGE"),
        ({"v": 1, "type": "replay", "pad": "x" * 4000, "junk": "y" * 200}, "AXL_ETOOBIG"),
        (pack([1, 2, 3]), "AXL_ETYPE"),
        (b"\xc1", "AXL_EPROTO"),
    ]
    for msg, code in cases:
        r = request(rep, msg)
        assert r["type"] == "error" and r["code"] == code, f"{msg!r:.80}: {r!r}"
        assert isinstance(r["msg"], str) and r["msg"], r
    # max 1 gives one event; from beyond the log gives none and more: false.
    r = request(rep, {"v": 1, "type": "replay", "from": 1, "max": 1})
    assert r["type"] == "replay_reply" and len(r["events"]) == 1 and r["more"] is True, r
    assert r["events"][0]["seq"] == 1 and r["events"][0]["type"] == "experiment.created"
    r = request(rep, {"v": 1, "type": "replay", "from": r["last_seq"] + 1})
    assert r["events"] == [] and r["more"] is False, r


ENVELOPE = ["v", "seq", "time", "type", "experiment", "trial", "rec", "body"]  # section 7
BODY_KEYS = {  # section 15, in the order written
    "experiment.created": ["v", "name", "campaign", "created", "config"],
    "experiment.started": ["resumed", "paused", "max_trials", "timeout_hours", "trials", "pid"],
    "generation.finished": ["v", "method", "step", "sobol_index", "fit_ms", "acq_ms", "acq_value",
                            "state"],
}
STOPPED_KEYS = ["exit_status", "reason", "trials", "completed", "failed", "abandoned",
                "pending", "best_trial", "best_value", "model_best_trial", "model_best_mean",
                "model_best_sd", "model_best_observed", "pareto", "runner", "stream"]


def check_shapes(events):
    """Sections 7 and 15: the envelope's keys and each body's keys, in the written order."""
    for ev in events:
        keys = list(ev)
        assert keys == [k for k in ENVELOPE if k in ev], (ev["seq"], keys)
        if ev["type"].startswith("trial."):
            assert "trial" in ev and ev["rec"] == "trial", ev["seq"]
            want = "CANDIDATE" if ev["type"] == "trial.created" else ev["type"][6:].upper()
            assert ev["body"]["status"] == want, (ev["seq"], ev["type"])  # section 15.3
            if ev["type"] == "trial.running":
                assert ev["body"]["job"] == f"fn-{ev['trial']}", ev["body"]["job"]
        elif ev["type"] in BODY_KEYS:
            assert list(ev["body"]) == BODY_KEYS[ev["type"]], (ev["type"], list(ev["body"]))
        elif ev["type"] == "experiment.stopped":
            body = list(ev["body"])
            assert body == [k for k in STOPPED_KEYS if k in ev["body"]], body
        else:
            raise AssertionError(f"an event type section 15 does not list: {ev['type']}")


def same_number(a, b):
    return a == b and type(a) is type(b) or (isinstance(a, float) and a == b)


def main():
    global deadline
    axle = os.path.abspath(sys.argv[1])
    deadline = time.monotonic() + DEADLINE_S
    with tempfile.TemporaryDirectory(prefix="axl-conf-") as tmp:
        store = os.path.join(tmp, "s")
        exp = os.path.join(tmp, "exp.json")
        with open(exp, "w") as f:
            json.dump({"name": NAME,
                       "search_space": {"parameters": [
                           {"name": "x1", "type": "range", "value_type": "float",
                            "bounds": [-5, 10]},
                           {"name": "x2", "type": "range", "value_type": "float",
                            "bounds": [0, 15]}]},
                       "objective": {"metric": "branin", "minimize": True},
                       "generation_strategy": "auto",
                       "scheduler": {"max_pending_trials": 3, "total_trials": TOTAL,
                                     "tolerated_trial_failure_rate": 0.9},
                       "runner": {"type": "function", "function": "branin",
                                  "duration_s": 0.01, "seed": 7, "outcomes": OUTCOMES}}, f)
        log = open(os.path.join(tmp, "run.log"), "w+")
        run = subprocess.Popen([axle, "run", exp, "--store", store, "--no-progress"],
                               stdout=log, stderr=subprocess.STDOUT)
        try:
            client = Client(store)
            client.replay()  # section 14: PUB dialled first, then replay from seq 1
            client.follow(lambda evs: hung_trial(evs) is not None)
            check_replay_errors(client.rep)
            hung = hung_trial(client.events)

            # Section 12: end the hung trial by hand; the reply means it is durable.
            ctl = open_socket("req", f"ipc://{store}/control.rep", 10000)
            r = request(ctl, {"v": 1, "type": "trial.complete", "experiment": NAME,
                              "trial": hung, "result": {"branin": [42.5, 0.25]}})
            assert r["type"] == "ok" and r["trial"] == hung and r["status"] == "COMPLETED", r
            nng.nng_close(ctl)

            # The rest arrives live: the engine sends every subscriber the whole log
            # before it closes the stream (section 14).
            client.follow(lambda evs: evs and evs[-1]["type"] == "experiment.stopped")
            rc = run.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        log.seek(0)
        out = log.read()
        assert rc == 0, f"axle run exited {rc}:\n{out}"
        nng.nng_close(client.sub)
        nng.nng_close(client.rep)

        events = client.events
        check_shapes(events)
        trials, records = fold(events)
        assert events[0]["type"] == "experiment.created"
        assert events[0]["body"]["name"] == NAME and events[0]["body"]["config"]["name"] == NAME
        assert events[1]["type"] == "experiment.started"
        assert events[1]["body"]["max_trials"] == TOTAL and events[1]["body"]["resumed"] is False
        assert ("generator", NAME) in records and ("experiment", NAME) in records
        assert isinstance(records[("generator", NAME)]["state"], bytes)  # bin, opaque

        stopped = events[-1]["body"]
        statuses = [t["status"] for t in trials.values()]
        assert stopped["exit_status"] == "completed", stopped
        assert stopped["trials"] == len(trials) == TOTAL
        assert stopped["completed"] == statuses.count("COMPLETED") == TOTAL - 2
        assert stopped["failed"] == statuses.count("FAILED") == 2
        assert stopped["abandoned"] == 0 and stopped["pending"] == 0
        stream = stopped.get("stream")
        # Section 15.7: the live stream's counters; this client kept up, so none dropped.
        assert isinstance(stream, dict) and stream["subscribers"] >= 1, stopped
        assert 0 < stream["published"] < len(events) and stream["dropped"] == 0, stopped
        assert trials[hung]["metrics"] == {"branin": [42.5, 0.25]}

        exp_json = json.loads(subprocess.run(
            [axle, "export", NAME, "--json", "--store", store], check=True,
            capture_output=True, text=True).stdout)
        assert len(exp_json) == len(trials), (len(exp_json), len(trials))
        for row in exp_json:
            t = trials[row["trial_index"]]
            where = f"trial {row['trial_index']}"
            assert row["arm_name"] == f"{t['index']}_0", where
            assert row["trial_status"] == t["status"], (where, row, t)
            assert row["reason"] == t["reason"], (where, row, t)
            assert row["generation_method"] == t["gen"], (where, row, t)
            for name, value in t["params"].items():
                assert same_number(row[name], value), (where, name, row[name], value)
            mean = t["metrics"]["branin"][0] if "branin" in t["metrics"] else None
            assert row["branin"] == mean, (where, row["branin"], mean)
            assert set(row) == {"trial_index", "arm_name", "trial_status", "reason",
                                "generation_method", "x1", "x2", "branin"}, row
        print(f"conformance: {len(events)} events ({client.pages} replay pages, "
              f"{client.gaps} gaps filled), {len(trials)} trials folded = axle export; envelopes "
              f"and bodies as in section 15; "
              f"replay errors as documented")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}")
        raise
