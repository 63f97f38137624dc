"""Perfetto / Chrome trace-event export: the structure a trace viewer relies on (balanced
slices, monotonic timestamps per track, flows with both ends, counters that end where the
run did), on runs that oops, stall and deadlock; wake-ups as arrows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict

import pagesim as ps
import pytest

ROOT = os.path.dirname(os.path.dirname(__file__))
sys.path.insert(0, os.path.join(ROOT, "scenarios"))
import nr_isolated_stall
import swap_info_deadlock
import zs_free_double_isolation

RUNS = {
    "oops": lambda: zs_free_double_isolation.zs_free_double_isolation.run(),
    "stall": lambda: nr_isolated_stall.nr_isolated_stall.run(),
    "deadlock": lambda: swap_info_deadlock.swap_info_deadlock.run(),
}


def check_structure(run: ps.Run, doc: dict) -> None:
    events = doc["traceEvents"]
    tracks: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for e in events:
        assert e["ph"] in "MBEiCsf", e
        if e["ph"] in "BEi":
            tracks[(e["pid"], e["tid"])].append(e)
    named = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name"}
    assert set(tracks) <= named
    for key, evs in tracks.items():
        depth = 0
        for a, b in zip(evs, evs[1:]):
            assert a["ts"] <= b["ts"], (key, a, b)
        for e in evs:
            depth += {"B": 1, "E": -1, "i": 0}[e["ph"]]
            assert depth >= 0, key
        assert depth == 0, key
    trace = run.trace()
    steps = [e for e in trace if e["kind"] == "step"]
    assert sum(e["ph"] == "i" for e in events) == len(steps)
    assert sum(e["ph"] == "B" for e in events) == sum(e["kind"] == "enter" for e in trace)
    flows = defaultdict(list)
    for e in events:
        if e["ph"] in "sf":
            flows[e["id"]].append(e)
    for pair in flows.values():
        assert [e["ph"] for e in pair] == ["s", "f"] and pair[0]["ts"] <= pair[1]["ts"], pair
    counters = defaultdict(list)
    for e in events:
        if e["ph"] == "C":
            counters[e["name"]].append((e["ts"], e["args"][e["name"]]))
    assert set(counters) == {"nr_free_pages", "nr_isolated_anon", "nr_isolated_file"}
    for name, samples in counters.items():
        assert all(a[0] <= b[0] for a, b in zip(samples, samples[1:])), name
        # The first sample is the initial value, the last the value at the end.
        assert samples[-1][1] == run.kernel.stats[name], name


@pytest.mark.parametrize("name", RUNS)
def test_the_export_is_well_formed(name, tmp_path) -> None:
    run = RUNS[name]()
    path = tmp_path / "trace.json"
    doc = run.to_perfetto(str(path))
    assert json.loads(path.read_text()) == doc
    check_structure(run, doc)
    assert doc["otherData"]["outcomes"] == run.outcome_counts
    # One process per CPU, a thread per task.
    procs = {e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "process_name"}
    assert {f"CPU{c}" for c in {e["cpu"] for e in run.trace()}} | {"vmstat"} == procs
    threads = {e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "thread_name"}
    assert threads == {e["task"] for e in run.trace()}


@ps.scenario(cpus=2, pages=512)
def hand_off(k):
    """The holder keeps mutex M for 100 ns; the waiter asks for it at 10 ns and sleeps."""
    m = k.mutex("M")

    def holder():
        yield m.lock()
        yield ps.delay(100)
        yield m.unlock()

    def waiter():
        yield ps.delay(10)
        yield m.lock()
        yield m.unlock()

    k.cpu(0).run(holder)
    k.cpu(1).run(waiter)


def arrows(doc: dict) -> list[tuple[dict, dict]]:
    """(start, end) of each flow arrow."""
    ends = {e["id"]: e for e in doc["traceEvents"] if e["ph"] == "f"}
    return [(e, ends[e["id"]]) for e in doc["traceEvents"] if e["ph"] == "s"]


def thread(doc: dict, event: dict) -> str:
    return next(e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "thread_name"
                and (e["pid"], e["tid"]) == (event["pid"], event["tid"]))


def test_a_wake_up_is_an_arrow_from_waker_to_wakee() -> None:
    run = hand_off.run(strategy="timed")
    assert [(w["waker"], w["wakee"], w["obj"]) for w in run.result.wakes()] == [
        ("holder", "waiter", "'M'")]
    doc = run.to_perfetto()
    check_structure(run, doc)
    [(start, end)] = arrows(doc)
    assert (thread(doc, start), thread(doc, end)) == ("holder", "waiter")
    assert start["name"] == "wake-up" and start["args"] == {"obj": "'M'"}
    # The head is the waiter's next operation: the lock it was woken for.
    after = [e for e in doc["traceEvents"] if e["ph"] == "i" and e["ts"] >= end["ts"]
             and (e["pid"], e["tid"]) == (end["pid"], end["tid"])]
    assert after[0]["name"] == "lock('M')", after[0]


def test_counters_follow_nr_isolated_and_the_throttled_compaction_is_woken() -> None:
    run = RUNS["stall"]()
    doc = run.to_perfetto()
    isolated = [e["args"]["nr_isolated_file"] for e in doc["traceEvents"]
                if e.get("name") == "nr_isolated_file" and e["ph"] == "C"]
    # A counts the zspage's three pages, then its migrations bring them back one by one.
    assert isolated == [0, 3, 2, 1, 0]
    # B, throttled in too_many_isolated(), is woken when A's NR_ISOLATED drops.
    assert [(thread(doc, s), thread(doc, f), s["args"]["obj"]) for s, f in arrows(doc)] == [
        ("compact_A", "compact_B", "node 0 vmstat")]


def test_cli_writes_a_perfetto_file(tmp_path) -> None:
    out = tmp_path / "p.json"
    target = os.path.join(ROOT, "scenarios", "nr_isolated_stall.py")
    r = subprocess.run([sys.executable, "-m", "pagesim.cli", "run", target + "::nr_isolated_stall",
                        "--perfetto", str(out)], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 1, r.stderr  # v4.8 stalls: check:no_stall
    assert json.loads(out.read_text())["otherData"]["scenario"] == "nr_isolated_stall"
    two = os.path.join(ROOT, "scenarios", "zs_free_double_isolation.py")  # two scenarios
    several = subprocess.run([sys.executable, "-m", "pagesim.cli", "run", two, "--perfetto",
                              str(out)], capture_output=True, text=True, timeout=120,
                             check=False)
    assert several.returncode == 2
    assert "--perfetto writes one run: name the scenario" in several.stderr
