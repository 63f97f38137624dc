"""A run as a Chrome trace-event JSON file, which Perfetto (ui.perfetto.dev) and
chrome://tracing open: one process per CPU with a thread per task, a slice per model
function, an instant event per operation on a named object (locks, page flags, refcounts,
lists), flow arrows for wake-ups (a lock released to its waiter, a page unlocked, a work
item done: from the waker's release to the wakee's next operation), and counter tracks (nr_free_pages,
nr_isolated_anon, nr_isolated_file). Timestamps are the simulated clocks, in
microseconds as the format wants (displayTimeUnit "ns")."""

from __future__ import annotations

from typing import Any

from . import _core

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
    # Each wake-up ends at the wakee's first operation from the step it was woken at.
    wakes = sorted(run.result.wakes(), key=lambda w: w["step"])
    awaited: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # wakee -> (flow id, wake)
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
        while wakes and wakes[0]["step"] <= e["step"]:  # woken before this step
            w = wakes.pop(0)
            if w["waker"] in home and w["wakee"] in home:
                flow = len(events)
                events.append({"ph": "s", "id": flow, "name": "wake-up", "cat": "wake",
                               "ts": _us(w["t"]), "pid": home[w["waker"]],
                               "tid": tid(w["waker"]), "args": {"obj": w["obj"]}})
                awaited.setdefault(w["wakee"], []).append((flow, w))
        for flow, w in awaited.pop(task, []):  # the wakee runs again: the arrow's head
            events.append({"ph": "f", "bp": "e", "id": flow, "name": "wake-up", "cat": "wake",
                           "ts": ts, **where})
        events.append({"ph": "i", "s": "t", "name": name, "ts": ts, **where,
                       "args": {"func": e["func"], "line": e["line"], "rw": e["rw"],
                                "step": e["step"]}})
    for flows in awaited.values():  # woken, but the run ended before it ran: no arrow
        ids = {flow for flow, _ in flows}
        events = [e for e in events if not (e["ph"] == "s" and e["id"] in ids)]
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
