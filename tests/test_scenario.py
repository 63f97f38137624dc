"""The scenario API: scripts by breakpoints, runs, replays, diagrams and their errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pagesim as ps
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "scenarios_fixture"))
import mm_races

HERE = os.path.dirname(__file__)
FIXTURE = os.path.join(HERE, "scenarios_fixture", "mm_races.py")
ROOT = os.path.dirname(HERE)


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
    assert run.bug.message == "VM_BUG_ON_PAGE(!PageLocked(page))"
    assert run.has("bug") and run.has("bug:unlock_page") and not run.has("oops")
    assert "kernel BUG at mm/filemap.c:866!" in run.report()
    assert "page dumped because" in run.report()
    assert "=> bug at mm/filemap.c:866:" in run.diagram()


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
    assert "kernel BUG at mm/filemap.c:866!" in bug.stdout


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
    assert "pagesim" in out and "kernel BUG at mm/filemap.c:866!" in out
    assert "pagesim replay .pagesim/failures/test_fail.py_test_it-1.json" in out
    assert "pagesim run " in out and "::unlock_unlocked_page --kernel v4.8" in out


def test_pytest_plugin_reports_every_run_of_a_test_and_its_fixtures(
        pytester: pytest.Pytester) -> None:
    # A test asserting both directions fails on the buggy side after a clean run: the
    # report lists both runs (and the fixture's) in order, and shows the failing one.
    pytester.makepyfile(
        test_both=f"""
import sys
import pytest
sys.path.insert(0, {os.path.join(ROOT, "scenarios")!r})
from zs_free_double_isolation import zs_free_double_isolation as sc

@pytest.fixture
def fixed_run():
    return sc.run(kernel="v4.8")

def test_both_directions(fixed_run):
    assert fixed_run.ok
    buggy = sc.run()
    clean = sc.run(kernel="v4.8")
    assert clean.ok and buggy.ok
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "3 scenario run(s) and exploration(s) in this test, in order:" in out
    runs = re.findall(r"#(\d) run <Run zs_free_double_isolation \[(\S+)\] \{'([^']+)': 1", out)
    assert runs == [("1", "v4.8", "ok"), ("2", "movable-v3", "oops:zs_page_isolate"),
                    ("3", "v4.8", "ok")], out
    for i in (1, 2, 3):
        saved = f".pagesim/failures/test_both.py_test_both_directions-{i}.json"
        assert f"replay: pagesim replay {saved}" in out
        assert os.path.exists(os.path.join(str(pytester.path), saved))
    # Only the failing run's report and diagram are shown.
    assert out.count("Call Trace:") == 1 and "---- #2: zs_free_double_isolation" in out


def test_pytest_replay_option_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    missing = pytester.runpytest("--pagesim-replay", "nope.json")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    assert "--pagesim-replay nope.json: cannot read nope.json" in missing.stderr.str()
    pytester.path.joinpath("bad.json").write_text("{not json")
    bad = pytester.runpytest("--pagesim-replay", "bad.json")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "bad.json" in bad.stderr.str()
    # A schedule of a scenario no selected test runs is an error, not silently ignored.
    sys.path.insert(0, os.path.join(ROOT, "scenarios"))
    from zs_free_double_isolation import zs_free_double_isolation as sc

    pytester.path.joinpath("s.json").write_text(sc.run().schedule.to_json())
    unused = pytester.runpytest("--pagesim-replay", "s.json")
    assert unused.ret == pytest.ExitCode.USAGE_ERROR
    assert "no selected test ran scenario 'zs_free_double_isolation'" in unused.stdout.str()


def test_test_driver_options_are_set_by_name() -> None:
    seen = {}

    @ps.scenario(kernel="v4.8")
    def busy_driver(k):
        drv = k.test_driver()
        drv.alloc(1)
        seen["first"] = drv.set(busy=True, migrate_error=16)
        seen["second"] = drv.set(busy=False)
        for bad, message in ((lambda: drv.set(0, 1), "takes options by name"),
                             (lambda: drv.set(), "takes options by name"),
                             (lambda: drv.set(bussy=True), "did you mean 'busy'"),
                             (lambda: drv.set(busy=7), "busy takes a value from 0 to 1")):
            with pytest.raises(ps.UsageError, match=message):
                bad()

    busy_driver.run()
    assert seen == {"first": {"busy": 0, "migrate_error": 0}, "second": {"busy": 1}}


def test_scenarios_and_notebooks_use_the_public_api_only() -> None:
    for folder in ("scenarios", "notebooks"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            path = os.path.join(ROOT, folder, name)
            if os.path.isfile(path):
                with open(path) as f:
                    text = f.read()
                assert "_core" not in text and "<< 56" not in text, path


def test_public_helpers_for_objects_pages_and_the_initial_state() -> None:
    seen = {}

    @ps.scenario(kernel="v6.6", pages=2048)
    def helpers(k):
        pool = k.zsmalloc()
        h = pool.malloc(3600)  # class 3632: zspages of 8 pages since b46402fa894f
        seen["pages"] = pool.pages_of(h)
        seen["handle_obj"] = pool.handle_obj(h)
        balloon = k.balloon()
        seen["dev"] = balloon.obj("balloon_dev_info")
        with pytest.raises(ps.UsageError, match="did you mean 'pages_lock'"):
            balloon.obj("page_lock")
        drv = k.test_driver()
        seen["driver"] = drv.alloc(2)

    state = helpers.initial_state()
    assert len(seen["pages"]) == 8
    assert all(state.page(p)["owner"] == "zsmalloc" for p in seen["pages"])
    assert ps.test_driver_pages(state) == [seen["driver"], seen["driver"] + 1]
    assert ps.test_driver_check(state) == []
    assert seen["handle_obj"] != seen["dev"]


def test_reports_name_the_kernel_and_its_taint() -> None:
    @ps.scenario(kernel="v4.8", cpus=1, fixes={"c102f07ca0b0": False})
    def warn_then_bug(k):
        def warns():
            yield ps.warn("first")

        def bugs():
            yield ps.bug("second")

        k.cpu(0).run(warns, name="warner")
        k.cpu(0).run(bugs, name="bugger")

    run = warn_then_bug.run()
    assert run.uname == "v4.8 c102f07ca0b0=off (pagesim)"
    first, second = run.report().split("\n\n")
    assert "Comm: warner Not tainted v4.8 c102f07ca0b0=off (pagesim)" in first
    assert "Comm: bugger Tainted: W v4.8 c102f07ca0b0=off (pagesim)" in second


def test_every_cli_argument_is_explained_in_help() -> None:
    import argparse

    from pagesim.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        assert sub.description or any(c.dest == name for c in subs._choices_actions), name
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"pagesim {name} {action.option_strings or action.dest}"
