"""The scenario API: scripts by breakpoints, runs, replays, diagrams and their errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pagesim as ps
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "scenarios_fixture"))
import mm_races

HERE = os.path.dirname(__file__)
FIXTURE = os.path.join(HERE, "scenarios_fixture", "mm_races.py")


def test_script_runs_contexts_in_the_named_order() -> None:
    run = mm_races.two_compactors.run()
    assert run.ok
    assert run.outcome_counts == {"ok": 1}
    target = run.kernel.process_pages(0)[10]
    # A isolated and migrated the page; B found it off the LRU and took nothing.
    assert run.kernel.stats["pgmigrate_success"] == 1
    assert run.kernel.corrupt_pages(0) == 0
    assert target != mm_races.two_compactors.build()[0].state.process_pages(0)[10]
    assert run.script == (
        "compact_page (cpu0) until after isolate_migratepages_block; "
        "compact_page (cpu1) to the end; compact_page (cpu0) to the end"
    )
    # B's whole visit to the page happens between A's isolation and A's migration.
    hist = [
        (e["cpu"], e["func"], e["op"])
        for e in run.page_history(mm_races.two_compactors.build()[0].state.process_pages(0)[10])
    ]
    first_b = next(i for i, h in enumerate(hist) if h[0] == 1)
    assert ("isolate_migratepages_block", "bit_clear") in [
        (f, o) for c, f, o in hist[:first_b] if c == 0
    ]
    assert all(c == 1 for c, _, _ in hist[first_b : first_b + 4])


def test_runs_are_deterministic_and_replayable() -> None:
    a = mm_races.two_compactors.run(seed=3)
    b = mm_races.two_compactors.run(seed=3)
    assert a.trace_hash == b.trace_hash
    replay = mm_races.two_compactors.run(schedule=a.schedule)
    assert replay.trace_hash == a.trace_hash
    assert replay.outcome_counts == a.outcome_counts


def test_unscripted_run_explores_other_interleavings() -> None:
    hashes = {mm_races.two_compactors.run(seed=s, scripted=False).trace_hash for s in range(8)}
    assert len(hashes) > 1


def test_stale_schedules_are_refused() -> None:
    recorded = mm_races.two_compactors.run().schedule
    assert recorded.meta["scenario"] == "two_compactors"
    assert recorded.meta["preset"] == "v4.8"
    with pytest.raises(ps.StaleScheduleError, match="recorded for scenario 'two_compactors'"):
        mm_races.unlock_unlocked_page.run(schedule=recorded)
    with pytest.raises(ps.StaleScheduleError, match="recorded on kernel 'v4.8'"):
        mm_races.two_compactors.run(kernel="movable-v3", schedule=recorded)
    # A bare compact schedule has no metadata; one that does not fit still fails clearly.
    with pytest.raises(ps.StaleScheduleError, match="stale schedule"):
        mm_races.two_compactors.run(schedule=ps.Schedule("1x20000"))


def test_outcome_properties_and_report() -> None:
    run = mm_races.unlock_unlocked_page.run()
    assert not run.ok
    assert run.outcome_counts == {"bug:unlock_page": 1}
    assert run.bug is not None and run.oops is None
    assert run.bug.function == "unlock_page"
    assert run.bug.message == "VM_BUG_ON_PAGE(!(mm.page(pfn).flags & (1ull << PG_locked)))"
    assert run.has("bug") and run.has("bug:unlock_page") and not run.has("oops")
    assert "kernel BUG at unlock_page" in run.report()
    assert "page dumped because" in run.report()
    assert "=> bug: VM_BUG_ON_PAGE" in run.diagram()


def test_diagram_has_a_column_per_cpu() -> None:
    lines = mm_races.two_compactors.run().diagram().splitlines()
    assert lines[0].startswith("CPU0: compact_page")
    assert "CPU1: compact_page" in lines[0]
    col = lines[0].index("CPU1")
    b_lines = [ln for ln in lines[2:] if ln[:col].strip() == ""]
    assert [ln.strip() for ln in b_lines[:2]] == ["compact_range", "isolate_migratepages_block"]


def test_scenario_errors_are_clear() -> None:
    @ps.scenario(cpus=1)
    def bad_cpu(k):
        k.cpu(3).run("compact_memory")

    with pytest.raises(ps.UsageError, match="cpu 3 out of range"):
        bad_cpu.run()

    @ps.scenario(cpus=1)
    def bad_return(k):
        return 42

    with pytest.raises(ps.UsageError, match="must return a ps.script"):
        bad_return.run()

    @ps.scenario(cpus=1)
    def bad_entry(k):
        k.cpu(0).run("no_such_entry")

    with pytest.raises(ps.UsageError, match="unknown kernel entry point 'no_such_entry'"):
        bad_entry.run()

    @ps.scenario(kernel="v9.9")
    def bad_preset(k):
        return None

    with pytest.raises(ps.UsageError, match="unknown kernel preset 'v9.9'"):
        bad_preset.run()


def test_generator_tasks_yield_calls() -> None:
    @ps.scenario(cpus=1, pages=512)
    def alloc_and_free(k):
        def task():
            pfn = yield ps.Call("alloc_pages", (2, ps.GFP["GFP_KERNEL"]))
            assert pfn >= 0
            yield ps.call("free_pages", pfn, 2)

        k.cpu(0).run(task)

    run = alloc_and_free.run()
    assert run.ok, run.report()
    assert run.kernel.free_blocks() == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]


def pagesim_cli(*args: str, cwd: str = HERE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pagesim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_list_run_and_exit_status(tmp_path) -> None:
    out = pagesim_cli("list", FIXTURE)
    assert out.returncode == 0
    assert "mm_races.py::two_compactors  [v4.8, 2 cpus]" in out.stdout

    ok = pagesim_cli("run", f"{FIXTURE}::two_compactors", "--json", str(tmp_path / "ok.json"))
    assert ok.returncode == 0, ok.stderr
    doc = json.loads((tmp_path / "ok.json").read_text())
    assert doc["outcomes"] == {"ok": 1}
    assert doc["scenario"] == "two_compactors" and doc["preset"] == "v4.8"
    assert doc["schema"] == "pagesim.run/1" and doc["pagesim_version"] == ps.__version__

    bug = pagesim_cli(
        "run", f"{FIXTURE}::unlock_unlocked_page", "--json", str(tmp_path / "bug.json")
    )
    assert bug.returncode == 1
    assert json.loads((tmp_path / "bug.json").read_text())["outcomes"] == {"bug:unlock_page": 1}
    assert "kernel BUG at unlock_page" in bug.stdout


def test_cli_usage_errors_exit_2() -> None:
    assert pagesim_cli("run", f"{FIXTURE}::nope").returncode == 2
    assert "has no scenario 'nope'" in pagesim_cli("run", f"{FIXTURE}::nope").stderr
    assert pagesim_cli("run", "missing.py").returncode == 2
    bad = pagesim_cli("run", f"{FIXTURE}::two_compactors", "--schedule", "0xq")
    assert bad.returncode == 2 and "malformed schedule token" in bad.stderr
    assert pagesim_cli("run", f"{FIXTURE}::two_compactors", "--kernel", "v0").returncode == 2
    assert pagesim_cli("frobnicate").returncode == 2


def test_cli_replay_and_diagram_from_json(tmp_path) -> None:
    path = tmp_path / "run.json"
    first = pagesim_cli("run", f"{FIXTURE}::two_compactors", "--seed", "5", "--json", str(path))
    assert first.returncode == 0
    again = pagesim_cli("replay", str(path), "--json", str(tmp_path / "again.json"))
    assert again.returncode == 0, again.stderr
    a = json.loads(path.read_text())
    b = json.loads((tmp_path / "again.json").read_text())
    assert a["trace_hash"] == b["trace_hash"]
    drawn = pagesim_cli("diagram", str(path))
    assert drawn.returncode == 0 and drawn.stdout.startswith("CPU0: compact_page")
    doc = json.loads(path.read_text())
    doc["pagesim_version"] = "0.0.1"
    path.write_text(json.dumps(doc))
    stale = pagesim_cli("replay", str(path))
    assert stale.returncode == 2 and "schedule recorded by pagesim 0.0.1" in stale.stderr


def test_pytest_plugin_reports_failing_scenario(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fail=f"""
import sys
sys.path.insert(0, {os.path.dirname(FIXTURE)!r})
import mm_races

def test_it():
    run = mm_races.unlock_unlocked_page.run()
    assert run.ok
"""
    )
    result = pytester.runpytest("--pagesim-seed", "4")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "pagesim" in out and "kernel BUG at unlock_page" in out
    assert "pagesim replay .pagesim/failures/" in out
    assert "pagesim run " in out and "::unlock_unlocked_page --kernel v4.8" in out
