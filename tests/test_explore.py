"""Exploration: strategies find the race library's bugs without scripts, dpor proves the
fixed kernel clean, workers (local and Ray) give the same outcome set, the CLI writes the
JSON a user scripts against, and bad input is refused clearly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pagesim as ps
import pytest

HERE = os.path.dirname(__file__)
SCENARIOS = os.path.join(os.path.dirname(HERE), "scenarios")
sys.path.insert(0, SCENARIOS)
import alloc_zspage_isolate
import balloon_dequeue_poison
import engine_abba
import zs_compact_pin_bit
import zs_free_double_isolation

ZS_FREE = zs_free_double_isolation.zs_free_double_isolation
ZS_FREE_FILE = os.path.join(SCENARIOS, "zs_free_double_isolation.py") + "::zs_free_double_isolation"

# Scenarios 1 to 4 on their buggy kernels, and the symptom each race shows.
RACES = {
    "zs_free": (ZS_FREE, {}, "oops:zs_page_isolate"),
    "alloc_zspage": (alloc_zspage_isolate.alloc_zspage_isolate, {}, "bug:remove_zspage"),
    "pin_bit": (zs_compact_pin_bit.zs_compact_pin_bit, {"fixes": zs_compact_pin_bit.BUGGY}, "oops"),
    "balloon": (
        balloon_dequeue_poison.balloon_dequeue_poison,
        {"fixes": balloon_dequeue_poison.BUGGY},
        "oops:balloon_page_dequeue",
    ),
}
# Budgets that find each race (results are deterministic for a seed).
STRATEGIES = {
    "random": {"executions": 100_000},
    "pct": {"executions": 20_000},
    "dpor": {"executions": 50_000, "preemption_bound": 2},
}


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("race", sorted(RACES))
def test_races_are_found_without_their_scripts(race: str, strategy: str) -> None:
    sc, kw, key = RACES[race]
    ex = sc.explore(strategy=strategy, minimise=False, **kw, **STRATEGIES[strategy])
    assert ex.sometimes(key), ex
    # The example replays to the same symptom.
    found = next(k for k in ex.outcomes if k == key or k.startswith(key + ":"))
    again = ex.replay(found)
    assert found in again.outcome_counts, again.report()


def test_dpor_exhausts_v48_with_no_oops_in_fewer_executions_than_dfs() -> None:
    dpor = ZS_FREE.explore(kernel="v4.8", strategy="dpor", executions=200_000, preemption_bound=2)
    assert dpor.exhausted, dpor
    assert dpor.outcomes == {"ok": dpor.executions}
    assert dpor.first_failure is None
    dfs = ZS_FREE.explore(kernel="v4.8", strategy="dfs", executions=200_000, preemption_bound=1)
    dpor1 = ZS_FREE.explore(kernel="v4.8", strategy="dpor", executions=200_000, preemption_bound=1)
    assert dfs.exhausted and dpor1.exhausted
    assert dpor1.executions * 2 < dfs.executions


def test_unbounded_dpor_matches_dfs_outcomes_with_sleep_sets() -> None:
    m = engine_abba.build_abba()
    dfs = m.explore("dfs", 100_000)
    dpor = m.explore("dpor", 100_000)
    assert dfs.exhausted and dpor.exhausted
    assert set(dfs.outcomes) == set(dpor.outcomes) == {"ok", "deadlock"}
    assert dpor.executions < dfs.executions


def test_unbounded_dpor_cuts_few_executions_short() -> None:
    # Source sets try a CPU only where it starts a reversed race: of zs_free's first
    # 20,000 executions on the fixed kernel, 8 end with every CPU asleep (persistent sets
    # cut 1,168 short).
    ex = ZS_FREE.explore(kernel="v4.8", strategy="dpor", executions=20_000, minimise=False,
                         preemption_bound=None)
    assert ex.outcomes == {"ok": 20_000} and not ex.exhausted
    assert ex.redundant * 500 < ex.executions, ex.redundant


def test_first_failure_is_minimised_and_replays() -> None:
    ex = ZS_FREE.explore(strategy="pct", executions=2_000)
    f = ex.first_failure
    assert f is not None and f.key == ex.found.first_failing().key
    assert f.preemptions <= 2 and f.steps > 0
    run = ZS_FREE.run(schedule=f.schedule)
    assert f.key in run.outcome_counts, run.report()
    assert ex.replay_command().startswith(f"pagesim run {ZS_FREE.file}::zs_free_double_isolation")


@pytest.mark.parametrize("strategy", ["dfs", "dpor"])
def test_local_workers_give_the_same_outcome_set(strategy: str) -> None:
    one = ZS_FREE.explore(strategy=strategy, executions=100_000, preemption_bound=1)
    two = ZS_FREE.explore(strategy=strategy, executions=100_000, preemption_bound=1, workers=2)
    assert one.exhausted and two.exhausted
    assert two.outcomes == one.outcomes
    assert two.found.workers == 2
    for key in one.outcomes:
        assert str(two.example(key)) == str(one.example(key))
    assert str(two.first_failure.schedule) == str(one.first_failure.schedule)


def _facts(ex: ps.Exploration) -> dict:
    """What a user reads in an exploration, but its timing and worker count."""
    j = ex.to_json()
    for key in ("seconds", "rate", "workers"):
        del j[key]
    return j


@pytest.mark.parametrize("strategy", ["dfs", "dpor"])
def test_a_budget_that_stops_the_search_is_the_whole_explorations(strategy: str) -> None:
    # Issue 15, F6: executions=N was counted per worker, so workers=2 ran up to 2N and
    # reported another outcome set and exhausted flag. Now N is the exploration's budget and
    # the result is one worker's, with any number of workers.
    # Each budget stops a search that has found more than one outcome.
    bound_1 = {"dfs": 1_500, "dpor": 500}[strategy]
    for budget, bound in ((1_500, "iterative"), (6_000, "iterative"), (bound_1, 1)):
        one = ZS_FREE.explore(strategy=strategy, executions=budget, preemption_bound=bound,
                              minimise=False)
        assert not one.exhausted and one.executions + one.found.repeated == budget
        assert len(one.outcomes) > 1
        for workers in (2, 3):
            many = ZS_FREE.explore(strategy=strategy, executions=budget, preemption_bound=bound,
                                   minimise=False, workers=workers)
            assert many.found.workers == workers
            assert _facts(many) == _facts(one), (budget, bound, workers)


def test_random_and_pct_workers_split_executions_by_index() -> None:
    for strategy in ("random", "pct"):
        one = ZS_FREE.explore(strategy=strategy, executions=600, minimise=False)
        two = ZS_FREE.explore(strategy=strategy, executions=600, minimise=False, workers=2)
        assert two.executions == 600
        assert two.outcomes == one.outcomes


def test_ray_local_cluster_gives_the_same_outcome_set() -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        local = ZS_FREE.explore(kernel="v4.8", strategy="dpor", executions=100_000,
                                preemption_bound=1)
        on_ray = ZS_FREE.explore(kernel="v4.8", strategy="dpor", executions=100_000,
                                 preemption_bound=1, workers=3, backend="ray")
        stopped = ZS_FREE.explore(strategy="dfs", executions=700, minimise=False)
        stopped_on_ray = ZS_FREE.explore(strategy="dfs", executions=700, minimise=False,
                                         workers=3, backend="ray")
    finally:
        ray.shutdown()
    assert on_ray.exhausted and local.exhausted
    assert on_ray.outcomes == local.outcomes
    # A budget that stops the search: the same result as one worker's (issue 15, F6).
    assert not stopped.exhausted
    assert _facts(stopped_on_ray) == _facts(stopped)
    assert on_ray.found.workers == 3


def test_budgets_stop_every_strategy() -> None:
    for strategy in ("random", "pct", "dfs", "dpor"):
        ex = ZS_FREE.explore(strategy=strategy, executions=25, minimise=False)
        # The budget counts runs: iterative bounding's re-runs of lower bounds too.
        assert ex.executions + ex.repeated == 25 and not ex.exhausted, strategy
        assert (ex.repeated > 0) == (strategy in ("dfs", "dpor")), strategy
    timed = ZS_FREE.explore(strategy="random", executions=0, seconds=0.2, minimise=False)
    assert timed.executions > 0 and timed.seconds >= 0.2


@pytest.mark.skipif(
    os.environ.get("PAGESIM_SANITIZE") == "1",
    reason="counts executions done in 0.3 s: the ASan build (make test-sanitize) is slower",
)
def test_budget_in_one_argument() -> None:
    assert ZS_FREE.explore(budget=40, minimise=False).executions == 40
    assert ZS_FREE.explore(budget="1_000,30s", kernel="v4.8").executions == 1000
    # A time alone has no execution limit: far more than the default 1000 in 0.3 s.
    timed = ZS_FREE.explore(budget="0.3s", kernel="v4.8")
    assert timed.executions > 1000 and 0.3 <= timed.seconds < 5
    # The same for a time given as seconds= without executions=.
    assert ZS_FREE.explore(seconds=0.3, kernel="v4.8").executions > 1000
    assert ZS_FREE.explore(kernel="v4.8").executions == 1000  # the default
    for bad in ("30 sec", "1.5", "", "-3", "10,x"):
        with pytest.raises(ps.UsageError, match="bad budget"):
            ZS_FREE.explore(budget=bad)
    with pytest.raises(ps.UsageError, match="not both"):
        ZS_FREE.explore(budget=10, executions=10)
    with pytest.raises(ps.UsageError, match="budget must be"):
        ZS_FREE.explore(budget=2.5)


def test_progress_bar_shows_the_budget_rate_eta_and_outcomes(capsys: pytest.CaptureFixture) -> None:
    ex = ZS_FREE.explore(strategy="random", executions=300, progress=True, minimise=False)
    last = capsys.readouterr().err.strip().split("\r")[-1]
    # Redrawn at the end with the final figures.
    assert last.startswith("explore zs_free_double_isolation random: 100%|"), last
    assert "| 300/300 [" in last and f"exec/s, {len(ex.outcomes)} outcomes]" in last, last
    # A dpor search that exhausts its space before the budget ends at 100% of what it ran.
    ZS_FREE.explore(kernel="v4.8", strategy="dpor", preemption_bound=1, progress=True)
    last = capsys.readouterr().err.strip().split("\r")[-1]
    assert " 100%|" in last and "1 outcome]" in last, last
    # A budget of seconds: the time against it, with executions and rate.
    ex = ZS_FREE.explore(strategy="random", seconds=0.3, progress=True, minimise=False)
    last = capsys.readouterr().err.strip().split("\r")[-1]
    assert re.search(rf": 100%\|.*\| 00:00<00:00, {ex.executions:,} executions, [\d,]+/s, "
                     rf"{len(ex.outcomes)} outcomes$", last), last


def test_bad_exploration_input_raises_clear_errors() -> None:
    with pytest.raises(ps.UsageError, match="unknown exploration strategy 'bfs'"):
        ZS_FREE.explore(strategy="bfs")
    with pytest.raises(ps.UsageError, match="workers must be an int between 1 and 4096"):
        ZS_FREE.explore(workers=0)
    with pytest.raises(ps.UsageError, match="needs a budget"):
        ZS_FREE.explore(executions=0)
    with pytest.raises(ps.UsageError, match="dpor needs free interleaving"):
        ZS_FREE.explore(strategy="dpor", window=100)
    with pytest.raises(ps.UsageError, match="malformed exploration result"):
        ps._core.ExploreResult.from_json("{")


def pagesim_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pagesim.cli", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture(scope="module")
def v3_explored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """`pagesim explore --json` of the zs_free race on movable-v3 (dpor, bound 1): the
    process and the JSON file."""
    out = tmp_path_factory.mktemp("explore") / "ex.json"
    bad = pagesim_cli("explore", ZS_FREE_FILE, "--strategy", "dpor", "--preemption-bound", "1",
                      "--executions", "100000", "--json", str(out))
    assert bad.returncode == 1, bad.stderr
    return bad, out


def test_cli_explore_writes_the_outcome_set_and_minimised_failure(v3_explored) -> None:
    bad, out = v3_explored
    doc = json.loads(out.read_text())
    assert doc["schema"] == "pagesim.explore/1" and doc["strategy"] == "dpor"
    assert doc["exhausted"] is True
    # Each execution counts once for each distinct outcome it had.
    assert doc["outcomes"]["ok"] < doc["executions"] <= sum(doc["outcomes"].values())
    assert doc["outcomes"]["oops:zs_page_isolate"] > 0
    first = doc["first_failure"]
    assert first["preemptions"] <= 1 and first["replay"].startswith("pagesim run ")
    assert "first failure" in bad.stdout and "replay with" in bad.stdout
    assert doc["rate"] > 0

    good = pagesim_cli("explore", ZS_FREE_FILE, "--kernel", "v4.8", "--strategy", "pct",
                       "--executions", "300", "--workers", "2", "--json", "-")
    assert good.returncode == 0, good.stderr
    assert '"ok": 300' in good.stdout and '"workers": 2' in good.stdout
    short = pagesim_cli("explore", ZS_FREE_FILE, "--kernel", "v4.8", "--strategy", "dfs",
                        "--budget", "10")
    assert short.returncode == 0, short.stderr
    assert "scope: dfs, 8 executions, iterative preemption bounding, bound 0 fully covered, " \
        "budget spent" in short.stdout
    assert pagesim_cli("explore", ZS_FREE_FILE, "--strategy", "bfs").returncode == 2
    assert pagesim_cli("explore", ZS_FREE_FILE, "--workers", "0").returncode == 2


def test_cli_replays_and_draws_an_explorations_examples(v3_explored, tmp_path) -> None:
    out = v3_explored[1]
    doc = json.loads(out.read_text())
    # Without --outcome: the minimised first failure, as the exploration printed it.
    first = pagesim_cli("replay", str(out))
    assert first.returncode == 1, first.stderr
    assert f"schedule: {doc['first_failure']['schedule']}" in first.stdout
    assert f": {doc['first_failure']['key']}" in first.stdout.splitlines()[0]
    # Each outcome's example shows that outcome, by key or by a kind with one key.
    for key in doc["outcomes"]:
        run = pagesim_cli("replay", str(out), "--outcome", key)
        assert run.returncode == (0 if key == "ok" else 1), run.stderr
        head = run.stdout.splitlines()[0]
        assert key in head.split(": ", 1)[1], head
        assert f"schedule: {doc['examples'][key]}" in run.stdout
    drawn = pagesim_cli("diagram", str(out), "--outcome", "oops:zs_page_isolate")
    assert drawn.returncode == 1 and drawn.stdout.startswith("CPU0: "), drawn.stdout
    # Bad keys and files say what there is, on one line, exit 2.
    nope = pagesim_cli("replay", str(out), "--outcome", "nope")
    assert nope.returncode == 2
    assert nope.stderr.startswith("pagesim: no execution had outcome 'nope' in "
                                  "zs_free_double_isolation [movable-v3] (outcomes: ")
    run_json = tmp_path / "run.json"
    assert pagesim_cli("replay", str(out), "--json", str(run_json)).returncode == 1
    wrong = pagesim_cli("replay", str(run_json), "--outcome", "ok")
    assert wrong.returncode == 2
    assert "--outcome picks an exploration's example; this is a run" in wrong.stderr


def test_an_exploration_ctrl_c_stopped_does_not_let_its_test_pass(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_stopped=f"""
import os, signal, sys, threading
sys.path.insert(0, {SCENARIOS!r})
from zs_free_double_isolation import zs_free_double_isolation as sc

def test_never_oopses_on_v48():
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    ex = sc.explore(kernel="v4.8", strategy="random", executions=0, seconds=60)
    assert ex.interrupted and ex.never("oops")

def test_after():
    pass
"""
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes()  # neither test passed
    assert "KeyboardInterrupt" in result.stdout.str()


def test_pytest_plugin_reports_failing_exploration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fail=f"""
import sys
sys.path.insert(0, {SCENARIOS!r})
from zs_free_double_isolation import zs_free_double_isolation as sc

def test_v3_is_clean():
    ex = sc.explore(strategy="dfs", preemption_bound=1, executions=100_000)
    assert ex.never("oops")

def test_v48_oopses():
    ex = sc.explore(kernel="v4.8", strategy="random", executions=50)
    assert ex.sometimes("oops")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    # The failing exploration: its outcome set, its first failure minimised, replayed with
    # its report and diagram, and the commands that replay it.
    assert "#1 exploration <Exploration zs_free_double_isolation [movable-v3]" in out
    assert "  oops:zs_page_isolate: " in out and "scope: dfs, " in out
    first = re.search(r"first failure \S+, minimised to 1 preemptions and \d+ steps:\n\n", out)
    assert first and "CPU0: migrate_ctx_A" in out[first.end():], out
    assert "   replay: pagesim replay .pagesim/failures/test_fail.py_test_v3_is_clean-1.json" in out
    assert "::zs_free_double_isolation --kernel movable-v3 --schedule '" in out
    # An exploration that found nothing says so.
    assert "{'ok': 50} (random, 50 executions, sampled" in out
    assert "no execution failed within the budget" in out
