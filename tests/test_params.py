"""Scenario parameters: one scenario, a family of variants (a kernel option or an argument
of the scenario function), in Python, on the CLI, in schedules and under pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pagesim as ps
import pytest
from pagesim import parallel

HERE = os.path.dirname(__file__)
FIXTURE = os.path.join(HERE, "scenarios_fixture", "variants.py")
race = ps.load_scenarios(FIXTURE)["fullness_race"]
FIX = {"c0547d0b6a4b": True, "4b5d1e47b694": True}
BUGGY = {"ok": 37, "bug:dec_zspage_isolation": 1, "invariant:zsmalloc_check": 2}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pagesim", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_variants_are_the_product_of_the_declared_values_in_order() -> None:
    assert [v.name for v in race.variants()] == [
        "fullness_race[fixes=none,objects=4]",
        "fullness_race[fixes=none,objects=5]",
        "fullness_race[fixes=+4b5d1e47b694+c0547d0b6a4b,objects=4]",
        "fullness_race[fixes=+4b5d1e47b694+c0547d0b6a4b,objects=5]"]
    assert race.bind(objects=5).bound == {"fixes": {}, "objects": 5}
    assert race.bind(objects=5).bind(fixes=FIX).bound == {"fixes": FIX, "objects": 5}
    plain = ps.load_scenarios(FIXTURE)["plain"]
    assert plain.variants() == [plain] and plain.name == "plain"


def test_a_parameter_reaches_the_function_and_the_kernel() -> None:
    # objects=5 needs a second zspage of class 3000 (three more pages).
    def pages_used(objects: int) -> int:
        free = race.bind(objects=objects).initial_state().free_blocks()
        return 512 - sum(n << order for order, n in enumerate(free))

    used = {n: pages_used(n) for n in (4, 5)}
    assert used[5] - used[4] == 3, used
    buggy = race.bind(objects=4).explore(strategy="dpor", preemption_bound=1)
    fixed = race.bind(objects=4, fixes=FIX).explore(strategy="dpor", preemption_bound=1)
    assert buggy.exhausted and buggy.outcomes == BUGGY, buggy
    assert fixed.exhausted and fixed.outcomes == {"ok": 31}, fixed
    assert fixed.fixes == FIX and buggy.fixes == {}


def test_unbound_it_runs_the_default_variant() -> None:
    run = race.run()
    assert run.scenario.name == "fullness_race[fixes=none,objects=4]"
    assert race.explore(strategy="dpor", preemption_bound=1).outcomes == BUGGY


def test_bad_parameters_are_one_line_usage_errors() -> None:
    with pytest.raises(ps.UsageError, match=r"unknown parameter of fullness_race 'object' "
                                            r"\(did you mean 'objects'\?\)"):
        race.bind(object=5)
    with pytest.raises(ps.UsageError, match="must be JSON"):
        race.bind(objects=object())

    def f(k, n):
        return None

    with pytest.raises(ps.UsageError, match=r"f\(n\): declare its values in params"):
        ps.scenario(f)
    with pytest.raises(ps.UsageError, match=r"params\['n'\] has no value"):
        ps.scenario(params={"n": []})(f)
    with pytest.raises(ps.UsageError, match=r"params\['n'\] must be a list of values"):
        ps.scenario(params={"n": 3})(f)
    with pytest.raises(ps.UsageError, match="neither a kernel option nor an argument"):
        ps.scenario(params={"m": [1]})(f)
    with pytest.raises(ps.UsageError, match=r"params\['n'\] must be JSON values"):
        ps.scenario(params={"n": [object()]})(f)
    assert ps.scenario(params={"n": [1], "cpus": [1, 2]})(f).variants()[1].bound == {
        "n": 1, "cpus": 2}


def test_a_schedule_belongs_to_its_variant() -> None:
    ex = race.bind(objects=5).explore(strategy="dpor", preemption_bound=1)
    sched = ex.example("bug:dec_zspage_isolation")
    assert json.loads(sched.meta["params"]) == {"fixes": {}, "objects": 5}
    assert sched.meta["scenario"] == "fullness_race"
    assert race.bind(objects=5).run(schedule=sched).outcome_counts == {
        "bug:dec_zspage_isolation": 1}
    with pytest.raises(ps.StaleScheduleError, match=r"recorded with parameters "
                                                    r'\{"fixes": \{\}, "objects": 5\}'):
        race.bind(objects=4).run(schedule=sched)
    command = ex.replay_command("bug")
    assert "variants.py::fullness_race --kernel v6.1 --param 'fixes={}' --param objects=5" \
        in command


def test_the_replay_command_replays_the_variant() -> None:
    ex = race.bind(objects=5).explore(strategy="dpor", preemption_bound=1)
    args = ex.replay_command("bug").split(" --schedule ")
    words = args[0].split()[1:]  # run FILE::name --kernel v6.1 --param ... --param ...
    words = [w.strip("'") for w in words]
    out = cli(*words, "--schedule", args[1].strip("'"))
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("fullness_race[fixes=none,objects=5] [v6.1]: "
                                 "bug:dec_zspage_isolation"), out.stdout


def test_cli_lists_runs_and_explores_every_variant(tmp_path) -> None:
    listed = cli("list", FIXTURE).stdout.splitlines()
    assert "    --param objects=4 | objects=5" in listed
    assert "    --param fixes=none | fixes=+4b5d1e47b694+c0547d0b6a4b" in listed
    out = cli("run", f"{FIXTURE}::fullness_race")
    assert [line.split(" [")[0] for line in out.stdout.splitlines()
            if line.startswith("fullness_race")] == [v.name for v in race.variants()]
    path = tmp_path / "ex.json"
    out = cli("explore", f"{FIXTURE}::fullness_race", "--param", "objects=5", "--strategy",
              "dpor", "--preemption-bound", "1", "--json", str(path))
    assert out.returncode == 1, out.stderr
    doc = json.loads(path.read_text())
    assert doc["scenario"] == "fullness_race" and doc["params"] == {"fixes": {}, "objects": 5}
    replayed = cli("replay", str(path), "--outcome", "bug")
    assert replayed.stdout.startswith("fullness_race[fixes=none,objects=5] [v6.1]: bug:"), \
        replayed.stdout
    bad = cli("run", f"{FIXTURE}::fullness_race", "--param", "objects")
    assert bad.returncode == 2 and "use NAME=VALUE" in bad.stderr
    bad = cli("run", FIXTURE, "--param", "objects=5")
    assert bad.returncode == 2 and "name it (FILE.py::name)" in bad.stderr


def test_a_ray_worker_explores_the_variant_it_is_given() -> None:
    # What each Ray task runs, called here: it loads the file and binds the variant.
    args = {"strategy": "dpor", "executions": 100_000, "seconds": 0.0, "seed": 0,
            "preemption_bound": 1, "pct_depth": 3, "iterative": False}
    build = {"kernel": None, "fixes": None, "trace": False}
    for params, want in (({"objects": 4, "fixes": {}}, BUGGY),
                         ({"objects": 4, "fixes": FIX}, {"ok": 31})):
        share = parallel.merge([parallel._ray_worker(FIXTURE, "fullness_race", params, build,
                                                     args, 0, 1)], 1, 1.0)
        assert {k: o.count for k, o in share.outcomes.items()} == want


def test_pytest_runs_a_test_per_variant(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_variants=f"""
import pagesim as ps
race = ps.load_scenarios({FIXTURE!r})["fullness_race"]

@ps.parametrize(race)
def test_never_loses_an_update(scenario):
    ex = scenario.explore(strategy="dpor", preemption_bound=1)
    assert ex.outcomes == {{"ok": ex.executions}}
""")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "test_never_loses_an_update[fixes=+4b5d1e47b694+c0547d0b6a4b,objects=4] PASSED" in out
    assert "test_never_loses_an_update[fixes=none,objects=5] FAILED" in out
    assert "--param 'fixes={}' --param objects=5" in out
