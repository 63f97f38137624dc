"""A run as a Chrome trace-event JSON file, which Perfetto (ui.perfetto.dev) and
chrome://tracing open: one process per CPU with a thread per task, a slice per model
function, an instant event per operation on a named object (locks, page flags, refcounts,
lists), flow arrows for lock hand-offs, and counter tracks (nr_free_pages,
nr_isolated_anon, nr_isolated_file). Timestamps are the simulated clocks, in
microseconds as the format wants (displayTimeUnit "ns")."""

from __future__ import annotations

from typing import Any

from . import _core

# Operations that take a lock (a failed attempt is recorded as the same operation), and
# those that release one; a waiter's acquire after another task's release is a hand-off.
ACQUIRE = {"spin_lock", "spin_trylock", "lock", "trylock", "read_lock", "write_lock",
           "test_and_set"}
RELEASE = {"spin_unlock", "unlock", "read_unlock", "write_unlock", "bit_clear"}
COUNTERS_PID = 1_000_000  # the process holding the counter tracks


def _us(ns: int) -> float:
    return ns / 1000.0


def trace_events(run: Any) -> dict[str, Any]:
    """The run's trace as a Chrome trace-event document."""
    trace = run.trace()
    if not trace:
        raise _core.UsageError("to_perfetto needs the run's trace (run with trace=True)")
    events: list[dict[str, Any]] = []
    tids: dict[str, int] = {}
    home: dict[str, int] = {}  # task -> the CPU whose process holds its thread

    def tid(task: str) -> int:
        return tids.setdefault(task, len(tids) + 1)

    for e in trace:
        home.setdefault(e["task"], e["cpu"])
    for cpu in sorted(set(home.values())):
        events.append({"ph": "M", "name": "process_name", "pid": cpu, "tid": 0,
                       "args": {"name": f"CPU{cpu}"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": cpu, "tid": 0,
                       "args": {"sort_index": cpu}})
    for task, cpu in home.items():
        events.append({"ph": "M", "name": "thread_name", "pid": cpu, "tid": tid(task),
                       "args": {"name": task}})

    open_frames: dict[str, list[str]] = {}
    last_ts: dict[str, float] = {}
    held_by: dict[str, tuple[str, float, int]] = {}  # obj -> (releaser, ts, flow id) after a release
    waiting: dict[str, str] = {}  # task -> the object its last operation tried to acquire
    flows = 0
    for e in trace:
        task = e["task"]
        where = {"pid": home[task], "tid": tid(task)}
        ts = last_ts[task] = _us(e["t"])  # a task's clock never goes back
        if e["kind"] == "enter":
            open_frames.setdefault(task, []).append(e["func"])
            events.append({"ph": "B", "name": e["func"], "ts": ts, **where})
            continue
        if e["kind"] == "exit":
            frames = open_frames.get(task, [])
            if frames:
                frames.pop()
                events.append({"ph": "E", "ts": ts, **where})
            continue
        obj, op = e.get("obj"), e["op"]
        name = f"{op}({obj})" if obj else op
        events.append({"ph": "i", "s": "t", "name": name, "ts": ts, **where,
                       "args": {"func": e["func"], "line": e["line"], "rw": e["rw"],
                                "step": e["step"]}})
        if obj is None:
            continue
        if op in RELEASE:
            flows += 1
            held_by[obj] = (task, ts, flows)
        elif op in ACQUIRE:
            released = held_by.get(obj)
            if released and released[0] != task and waiting.get(task) == obj:
                # The releaser's event starts the arrow, this acquire ends it.
                events.append({"ph": "s", "id": released[2], "name": "hand-off",
                               "cat": "lock", "ts": released[1], "pid": home[released[0]],
                               "tid": tid(released[0])})
                events.append({"ph": "f", "bp": "e", "id": released[2], "name": "hand-off",
                               "cat": "lock", "ts": ts, **where})
                held_by.pop(obj)
        waiting[task] = obj if op in ACQUIRE else ""
    for task, frames in open_frames.items():  # a task that died in a function
        for _ in frames:
            events.append({"ph": "E", "ts": last_ts[task], "pid": home[task], "tid": tid(task)})

    events.append({"ph": "M", "name": "process_name", "pid": COUNTERS_PID, "tid": 0,
                   "args": {"name": "vmstat"}})
    counter_ts = 0.0  # in step order; a CPU whose clock lags does not go back in time
    for c in run.result.counters():
        counter_ts = max(counter_ts, _us(c["t"]))
        events.append({"ph": "C", "name": c["name"], "ts": counter_ts, "pid": COUNTERS_PID,
                       "tid": 0, "args": {c["name"]: c["value"]}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"scenario": run.scenario.name, "preset": run.preset,
                          "fixes": run.fixes, "outcomes": run.outcome_counts,
                          "trace_hash": f"{run.trace_hash:016x}"}}
