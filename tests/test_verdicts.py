"""Verdicts you can trust: names are checked when typed, a script that never reached its
racy step is an error, properties are outcomes, and an exploration states its scope."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pagesim as ps
import pytest

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scenarios"))

from alloc_zspage_isolate import alloc_zspage_isolate
from balloon_dequeue_poison import balloon_dequeue_poison
from zs_compact_pin_bit import zs_compact_pin_bit
from zs_free_double_isolation import zs_free_double_isolation as ZS_FREE


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pagesim.cli", *args], check=False,
                          capture_output=True, text=True)


def zs_free_with(script_of):
    """The zs_free race's contexts with the script script_of(a, b, c, T)."""

    @ps.scenario(kernel="movable-v3", cpus=3, pages=1024)
    def zs_free_variant(k):
        pool = k.zsmalloc()
        h = pool.malloc(3000)
        T = pool.pages_of(h)[1]
        a = k.cpu(0).run(k.compaction.isolate, T, name="migrate_ctx_A")
        b = k.cpu(1).run(k.compaction.isolate, T, name="migrate_ctx_B")
        c = k.cpu(2).run(pool.free, h, name="zs_free_C")
        return script_of(a, b, c, T)

    return zs_free_variant


def zs_free_first_step(step_of):
    """The reported script with its first step replaced by step_of(a, T)."""
    return zs_free_with(lambda a, b, c, T: ps.script(step_of(a, T), c, b))


# ---- names ----


def test_a_typo_in_a_breakpoint_is_a_usage_error_with_the_near_match() -> None:
    sc = zs_free_first_step(lambda a, T: a.until("unlock_pgae", T))
    with pytest.raises(ps.UsageError, match=r"unknown model function 'unlock_pgae' "
                                            r"\(did you mean 'unlock_page'"):
        sc.run()
    with pytest.raises(ps.UsageError, match="unlock_pgae"):
        sc.explore(executions=10)


def test_a_function_the_preset_lacks_names_the_fix_it_needs() -> None:
    sc = zs_free_first_step(lambda a, T: a.until("zs_page_isolate", T))
    assert sc.run().oops.function == "zs_page_isolate"  # movable-v3 has it
    with pytest.raises(ps.UsageError, match=r"'zs_page_isolate' is not in v4.7's model: it "
                                            r"needs fix bda807d44454"):
        sc.run(kernel="v4.7")


def test_model_functions_per_preset() -> None:
    every = ps.model_functions()
    assert "zs_page_isolate" in every and "unlock_page" in every and every == sorted(every)
    assert "zs_page_isolate" not in ps.model_functions("v4.7")
    non_lru = {"c6c919eb90e0": True, "bda807d44454": True}
    assert "zs_page_isolate" in ps.model_functions("v4.7", non_lru)
    assert set(ps.model_functions("v4.7")) < set(every)
    # 6.3's batch migration brought its functions: a breakpoint on one names the fix before.
    assert "migrate_folio_unmap" in ps.model_functions("v6.6")
    assert "migrate_folio_unmap" not in ps.model_functions("v6.1")
    assert "migrate_folio_unmap" not in ps.model_functions("v6.6", {"2ef7dbb26990": False,
                                                                     "4bb6dc79d987": False})
    # 4.7's balloon migrated through hooks of its own, under the same names.
    assert {"balloon_page_isolate", "virtballoon_migratepage"} <= set(ps.model_functions("v4.7"))
    with pytest.raises(ps.UsageError, match=r"^fix 'bda807d44454' needs fix 'c6c919eb90e0' "
                                            r"\(bda807d44454 frees a migrated non-LRU page"):
        ps.model_functions("v4.7", {"bda807d44454": True})
    # Outcome keys may also name the places that report without a frame of their own.
    assert {"remove_zspage", "spin_unlock"} <= set(ps.outcome_functions()) - set(every)
    with pytest.raises(ps.UsageError, match=r"unknown kernel preset 'v4.88' \(did you mean"):
        ps.model_functions("v4.88")


def test_unknown_entry_points_and_fixes_suggest_near_matches() -> None:
    with pytest.raises(ps.UsageError, match=r"unknown kernel entry point 'zs_fre' \(did you mean "
                                            r"'zs_free'"):
        ps.call("zs_fre", 1, 2)
    with pytest.raises(ps.UsageError, match=r"unknown fix 'c102f07ca0' \(did you mean "
                                            r"'c102f07ca0b0'\?\)"):
        ZS_FREE.run(fixes={"c102f07ca0": False})


def test_outcome_keys_are_checked_when_the_predicate_is_called() -> None:
    ex = ZS_FREE.explore(strategy="pct", executions=300, minimise=False)
    assert ex.sometimes("oops:zs_page_isolate") and not ex.never("oops")
    for typo, near in (("opps", "oops"), ("Oops", "oops"),
                       ("oops:test_driver_isolate", "test_driver_isolate_page"),
                       ("oops:zs_page_isolat", "zs_page_isolate")):
        with pytest.raises(ps.UsageError, match=f"did you mean '{near}'"):
            ex.never(typo)
    with pytest.raises(ps.UsageError, match="kind 'deadlock' names no function"):
        ex.sometimes("deadlock:zs_free")
    with pytest.raises(ps.UsageError, match="no check named 'x' ran"):
        ex.never("check:x")
    with pytest.raises(ps.UsageError, match="did you mean 'KeyError'"):
        ex.never("exception:KeyErorr")
    # A function this preset does not have cannot be a never() that means something.
    v47 = ZS_FREE.explore(kernel="v4.7", strategy="random", executions=20)
    with pytest.raises(ps.UsageError, match="not in v4.7's model: it needs fix bda807d44454"):
        v47.never("oops:zs_page_isolate")
    run = ZS_FREE.run()
    with pytest.raises(ps.UsageError, match="did you mean 'oops'"):
        run.has("opps")
    # Known keys that did not happen are fine: a real never().
    assert ex.never("bug:remove_zspage") is True
    assert ex.never("exception:ValueError") and ex.never("warn:zs_free_C")
    # Invariant outcomes name the check that found them: the mm's or a driver's.
    assert ex.never("invariant:zsmalloc_check") and ex.never("invariant:check_invariants")
    with pytest.raises(ps.UsageError, match="did you mean 'balloon_check'"):
        ex.never("invariant:baloon_check")


# ---- scripts ----


def test_the_reported_script_reaches_its_racy_step() -> None:
    run = ZS_FREE.run()
    assert run.unmatched_steps == []
    assert [s["matched"] for s in run.result.script_status] == [True, True, True]
    first = run.result.script_status[0]
    assert first["ops"] > 0 and first["last_function"] == "unlock_page"


def test_a_step_on_a_page_the_context_never_touches_is_a_script_error() -> None:
    untouched = zs_free_first_step(lambda a, T: a.until("unlock_page", T + 100))
    with pytest.raises(ps.ScriptError, match=r"script step never matched: step 1 "
                                             r"\(migrate_ctx_A \(cpu0\) until after unlock_page "
                                             r"on page \d+\): migrate_ctx_A ran \d+ operations "
                                             r"in it, the last in \w+; then its context ended") as e:
        untouched.run()
    assert isinstance(e.value.run, ps.Run) and len(e.value.unmatched) == 1
    assert e.value.run.ok  # the run itself was clean: a "proof" that tested nothing
    kept = untouched.run(strict=False)
    assert kept.unmatched_steps == e.value.unmatched
    assert "script steps that never matched" in kept.report()
    assert kept.to_json()["unmatched_steps"] == e.value.unmatched


def test_a_steps_count_the_context_never_reaches_is_a_script_error() -> None:
    sc = zs_free_first_step(lambda a, T: a.steps(10**9))
    with pytest.raises(ps.ScriptError, match=r"for 1000000000 operations\)"):
        sc.run()


def test_cli_run_with_a_typo_is_a_usage_error(tmp_path) -> None:
    f = tmp_path / "typo.py"
    f.write_text(
        "import pagesim as ps\n"
        "@ps.scenario(kernel='movable-v3', cpus=2)\n"
        "def typo(k):\n"
        "    pool = k.zsmalloc(); h = pool.malloc(3000); T = pool.pages_of(h)[1]\n"
        "    a = k.cpu(0).run(k.compaction.isolate, T)\n"
        "    b = k.cpu(1).run(pool.free, h)\n"
        "    return ps.script(a.until('unlock_pgae', T), b)\n")
    out = cli("run", str(f))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "pagesim: unknown model function 'unlock_pgae' (did you mean 'unlock_page' or 'unlock_zspage'?)"]


def test_stop_at_a_breakpoint_and_state_at_a_step() -> None:
    stop_before_free = zs_free_with(
        lambda a, b, c, T: ps.script(a.until("unlock_page", T), stop=c.before("free_zspage")))
    run = stop_before_free.run()
    assert run.stopped and run.ok and run.unmatched_steps == []
    T = stop_before_free.build().core.state  # the initial state
    pool_pages = [p for p in range(T.nr_pages) if T.page(p)["owner"] == "zsmalloc"]
    # v3 aliased PG_isolated to PG_owner_priv_1 (and PG_movable to PG_reclaim)
    isolated = [p for p in pool_pages if "owner_priv_1" in run.kernel.page(p)["flags"]]
    assert len(isolated) == 1  # A isolated T and dropped its lock; C has not freed yet
    # state_at rebuilds the state at any step of a recorded run.
    again = run.state_at(run.steps)
    assert [again.page(p) for p in pool_pages] == [run.kernel.page(p) for p in pool_pages]
    full = ZS_FREE.run()
    assert full.state_at(0).page(isolated[0]) == T.page(isolated[0])
    with pytest.raises(ps.UsageError, match="step must be an int"):
        full.state_at(full.steps + 1)
    with pytest.raises(ps.UsageError, match="stop= takes a breakpoint"):
        ps.script(stop=ps.Context(0, "x"))


# ---- properties as outcomes ----


def lost_update_scenario():
    @ps.scenario(kernel="v4.8", cpus=2)
    def lost_update(k):
        """Two tasks increment a counter by read and set: an update can be lost."""
        value, done = k.counter("value"), k.counter("done")

        def incrementer():
            v = yield value.read()
            yield value.set(v + 1)
            if (yield done.add(1)) == 2:
                total = yield value.read()
                yield ps.check(total == 2, "no_lost_update", f"value is {total}, not 2")

        k.cpu(0).run(incrementer, name="inc0")
        k.cpu(1).run(incrementer, name="inc1")

    return lost_update


def test_a_check_in_a_python_task_is_an_outcome_with_a_minimised_replayable_schedule() -> None:
    sc = lost_update_scenario()
    ex = sc.explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.every_schedule
    assert ex.sometimes("check:no_lost_update") and ex.sometimes("ok")
    f = ex.first_failure
    assert f.key == "check:no_lost_update" and f.preemptions == 1
    run = ex.replay()
    assert run.outcome_counts == {"check:no_lost_update": 1}
    o = run.outcomes[0]
    assert o.kind == "check" and o.message == "value is 1, not 2"
    assert o.backtrace == ["incrementer"] and o.task in ("inc0", "inc1")
    assert "check 'no_lost_update' failed: value is 1, not 2" in o.report
    assert run.result.checks == ["no_lost_update"]


def test_bug_and_warn_from_a_python_task() -> None:
    @ps.scenario(kernel="v4.8", cpus=1)
    def reports(k):
        def task():
            yield ps.warn("odd but survivable")
            yield ps.bug("impossible state")
            yield ps.warn("not reached")

        k.cpu(0).run(task, name="reporter")

    run = reports.run()
    assert [o.key for o in run.outcomes] == ["warn:reporter", "bug:reporter"]
    assert run.bug.message == "impossible state" and run.bug.backtrace == ["task"]
    ex = reports.explore(strategy="dfs")
    assert ex.outcomes == {"bug:reporter": 1, "warn:reporter": 1} and ex.every_schedule


def test_an_exception_in_a_task_is_an_outcome_of_an_exploration() -> None:
    @ps.scenario(kernel="v4.8", cpus=2)
    def raises(k):
        flag = k.counter("flag")

        def setter():
            yield flag.set(1)

        def reader():
            if (yield flag.read()) == 1:
                raise KeyError("saw the flag")

        k.cpu(0).run(setter)
        k.cpu(1).run(reader)

    ex = raises.explore(strategy="dfs")
    assert ex.outcomes == {"exception:KeyError": 1, "ok": 1} and ex.exhausted
    run = ex.replay("exception:KeyError")
    assert "raise KeyError" in run.report() and "saw the flag" in run.report()
    with pytest.raises(KeyError):  # run() raises it, as Python code would
        raises.run(schedule=ex.example("exception:KeyError"))


def test_end_of_run_checks_over_the_final_state() -> None:
    def all_pool_pages_free(state):
        busy = [p for p in range(state.nr_pages) if state.page(p)["owner"] == "zsmalloc"]
        return f"{len(busy)} zsmalloc pages left" if busy else None

    @ps.scenario(kernel="v4.8", cpus=2, checks=[all_pool_pages_free])
    def free_all(k):
        pool = k.zsmalloc()
        h = pool.malloc(3000)
        T = pool.pages_of(h)[1]
        k.cpu(0).run(pool.free, h)
        k.cpu(1).run(k.compaction.isolate, T)

    ex = free_all.explore(strategy="dpor", preemption_bound=2, executions=50_000)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}
    assert ex.proves_never("check:all_pool_pages_free")
    # The same check without the free: every run fails it, with the message.
    @ps.scenario(kernel="v4.8", cpus=1, checks=[all_pool_pages_free])
    def keep(k):
        pool = k.zsmalloc()
        pool.malloc(3000)
        k.cpu(0).run(k.compaction.memory)

    run = keep.run()
    assert run.outcome_counts == {"check:all_pool_pages_free": 1}
    assert run.outcomes[0].message.endswith("zsmalloc pages left")


def test_balloon_consistency_is_an_end_of_run_check() -> None:
    assert balloon_dequeue_poison.options["checks"]
    run = balloon_dequeue_poison.run(kernel="v4.8")
    assert run.ok and run.result.checks == ["balloon_consistent"]


# ---- scope ----


def test_dpor_and_dfs_with_no_bound_find_the_reported_race() -> None:
    for strategy in ("dpor", "dfs"):
        ex = ZS_FREE.explore(strategy=strategy, minimise=False)
        assert ex.sometimes("oops:zs_page_isolate"), ex
        assert ex.bound_covered is not None and ex.bound_covered >= 0
        first = ex.found.outcomes["oops:zs_page_isolate"].first_run
        assert first < 1000


@pytest.mark.parametrize(
    ("sc", "fixes", "key", "budget"),
    [
        (alloc_zspage_isolate, {}, "bug:remove_zspage", 1_000),
        (balloon_dequeue_poison, {"balloon-dequeue-under-lock": False},
         "oops:balloon_page_dequeue", 2_000),
        (zs_compact_pin_bit, {"c102f07ca0b0": False}, "oops:zs_free", 30_000),
    ],
    ids=["alloc_zspage", "balloon", "pin_bit"],
)
def test_dpor_with_no_bound_finds_every_library_race(sc, fixes, key, budget) -> None:
    ex = sc.explore(strategy="dpor", fixes=fixes, executions=budget, minimise=False)
    assert ex.sometimes(key), ex


def test_never_on_an_unexhausted_search_warns_and_proves_nothing() -> None:
    ex = ZS_FREE.explore(kernel="v4.8", strategy="dpor", executions=200, minimise=False)
    assert not ex.exhausted
    with pytest.warns(ps.InconclusiveWarning, match=r"never\('oops'\) is not a proof: "
                                                    r"zs_free_double_isolation \[v4.8\] explored "
                                                    r"dpor, \d+ executions, iterative"):
        assert ex.never("oops")
    assert not ex.proves_never("oops")
    proof = ZS_FREE.explore(kernel="v4.8", strategy="dpor", preemption_bound=1, executions=50_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert proof.never("oops") and proof.proves_never("oops")
    assert proof.exhausted and not proof.every_schedule and proof.bound_covered == 1
    assert "preemption bound 1, bound 1 fully covered, exhausted" in repr(proof)
    sampled = ZS_FREE.explore(kernel="v4.8", strategy="random", executions=50)
    assert not sampled.proves_never("oops") and "sampled" in sampled.scope


def test_cli_json_states_the_scope(tmp_path) -> None:
    out = tmp_path / "ex.json"
    r = cli("explore",
                        os.path.join(ROOT, "scenarios", "zs_free_double_isolation.py")
                        + "::zs_free_double_isolation", "--kernel", "v4.8", "--strategy",
                        "dpor", "--preemption-bound", "2", "--json", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["exhausted"] and doc["outcomes"] == {"ok": doc["executions"]}
    assert doc["preemption_bound"] == 2 and doc["bound_covered"] == 2
    assert not doc["every_schedule"] and doc["scope"].endswith("bound 2 fully covered, exhausted")
    bad = cli("explore", "x.py",
                          "--preemption-bound", "-1")
    assert bad.returncode == 2 and "use a bound K >= 0, none or iterative" in bad.stderr


# ---- stale schedules ----


def test_a_schedule_from_an_edited_scenario_is_refused() -> None:
    run = ZS_FREE.run()
    sched = run.schedule
    assert sched.meta["source_hash"] == ZS_FREE.source_hash
    assert ZS_FREE.run(schedule=sched).trace_hash == run.trace_hash
    sched.meta = {**sched.meta, "source_hash": "0" * 16}
    with pytest.raises(ps.StaleScheduleError, match="its source changed since"):
        ZS_FREE.run(schedule=sched)
    sched.meta = {**run.schedule.meta, "trace_hash": "0" * 16}
    with pytest.raises(ps.StaleScheduleError, match="the model changed since"):
        ZS_FREE.run(schedule=sched)
    sched.meta = {**run.schedule.meta, "fixes": '{"c102f07ca0b0": false}'}
    with pytest.raises(ps.StaleScheduleError, match="recorded with fixes"):
        ZS_FREE.run(schedule=sched)


def test_a_python_task_reads_vmstat_counters() -> None:
    @ps.scenario(kernel="v4.8", cpus=1)
    def counts(k):
        def task():
            before = yield ps.vmstat("nr_free_pages")
            pfn = yield ps.call("alloc_pages", 0, int(ps.GFP["GFP_KERNEL"]))
            after = yield ps.vmstat("nr_free_pages")
            yield ps.check(after == before - 1, "one_page_taken", f"{before} -> {after}")
            yield ps.call("free_pages", pfn, 0)

        k.cpu(0).run(task)

    run = counts.run()
    assert run.ok and run.result.checks == ["one_page_taken"]
    assert run.kernel.stats["nr_free_pages"] == counts.build().core.state.stats["nr_free_pages"]
    with pytest.raises(ps.UsageError, match=r"unknown vmstat counter 'nr_isolated' \(did you mean "
                                            r"'nr_isolated_anon'"):
        ps.vmstat("nr_isolated")


def test_cli_dpor_and_dfs_with_no_option_find_the_oops(tmp_path) -> None:
    target = os.path.join(ROOT, "scenarios", "zs_free_double_isolation.py")
    for strategy in ("dpor", "dfs"):
        out = tmp_path / f"{strategy}.json"
        r = cli("explore",
                            target + "::zs_free_double_isolation", "--kernel", "movable-v3",
                            "--strategy", strategy, "--json", str(out))
        assert r.returncode == 1, r.stderr  # some execution failed
        doc = json.loads(out.read_text())
        assert doc["outcomes"]["oops:zs_page_isolate"] > 0, doc["outcomes"]
        assert doc["preemption_bound"] == "iterative" and doc["bound_covered"] >= 1
        assert doc["first_seen"]["oops:zs_page_isolate"] < 1000


def test_cli_run_no_strict_lists_the_unmatched_step(tmp_path) -> None:
    f = tmp_path / "untouched.py"
    f.write_text(
        "import pagesim as ps\n"
        "@ps.scenario(kernel='v4.8', cpus=2)\n"
        "def untouched(k):\n"
        "    pool = k.zsmalloc(); h = pool.malloc(3000); T = pool.pages_of(h)[1]\n"
        "    a = k.cpu(0).run(k.compaction.isolate, T)\n"
        "    b = k.cpu(1).run(pool.free, h)\n"
        "    return ps.script(a.until('unlock_page', T + 100), b)\n")
    strict = cli("run", str(f))
    assert strict.returncode == 2 and "script step never matched: step 1" in strict.stderr
    out = tmp_path / "run.json"
    lenient = cli("run", str(f), "--no-strict",
                              "--json", str(out))
    assert lenient.returncode == 0 and "script steps that never matched" in lenient.stdout
    assert json.loads(out.read_text())["unmatched_steps"][0].startswith("step 1 (")


def test_cli_functions_lists_a_presets_model_functions() -> None:
    def lines(*args):
        r = cli("functions", *args)
        return r.returncode, r.stdout.split("\n")

    code, v47 = lines("--kernel", "v4.7")
    assert code == 0 and "zs_page_isolate" not in " ".join(v47)
    assert any(line.split() == ["zs_free", "core/drivers/zsmalloc.cpp"] for line in v47)
    code, flipped = lines("--kernel", "v4.7", "--fix", "c6c919eb90e0", "--fix", "bda807d44454")
    assert any(line.split()[:1] == ["zs_page_isolate"] for line in flipped if line)
    assert lines("--kernel", "v9")[0] == 2


def test_cli_fixes_between_two_presets_lists_what_changed() -> None:
    r = cli("fixes", "--between", "v4.9", "v4.14")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "v4.9 -> v4.14: 25 added, 0 removed"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["+", "6afcf8ef0ca0"], ["+", "73e64c51afc5"], ["+", "no-watermark-check-in-compact-finished"],
        ["+", "3bc48f96cf11"], ["+", "02aa0cdd7248"], ["+", "7a8f58f39188"], ["+", "282722b0d258"],
        ["+", "baf6a9a1db5a"], ["+", "fix-zone-balance-check-in-prepare-kswapd-sleep"],
        ["+", "e716f2eb24de"], ["+", "c73322d098e4"],
        ["+", "62906027091f"], ["+", "77ff465799c6"],
        ["+", "195a8c43e93d"], ["+", "db8ffbd4e763"], ["+", "f201ebd87652"], ["+", "z3fold-fix-header-size-related-issues"], ["+", "1b096e5ae9f7"],
        ["+", "z3fold-use-per-page-spinlock"], ["+", "5a27aa822029"],
        ["+", "z3fold-fix-spinlock-unlocking-in-page-reclaim"], ["+", "z3fold-fix-page-locking-in-z3fold-alloc"],
        ["+", "d30561c56f41"], ["+", "z3fold-fix-potential-race-in-z3fold-reclaim-page"],
        ["+", "z3fold-fix-stale-list-handling"]]
    assert "fix NR_ISOLATED_* stats for pfn based migration" in lines[1]
    back = cli("fixes", "--between", "v4.9", "v4.7").stdout.splitlines()
    assert back[0] == "v4.9 -> v4.7: 0 added, 9 removed"
    assert [line.split()[1] for line in back[1:]] == [
        "c6c919eb90e0", "bda807d44454", "b1123ea6d3b3", "correct-watermark-for-compaction-success", "8348faf91f56",
        "dont-recheck-watermarks-after-compact-success", "restrict-fragindex-to-costly-orders",
        "1b8320b620d6", "zram-gfp-movable"]
    older = cli("fixes", "--between", "v4.4", "v4.7").stdout.splitlines()
    assert older[0] == "v4.4 -> v4.7: 10 added, 0 removed"
    assert "virtio_balloon: fix race by fill and leak" in next(
        line for line in older if "f68b992bbb47" in line)
    every = cli("fixes").stdout.splitlines()
    assert [line.split()[0] for line in every] == [f["name"] for f in ps.fixes()]
    # Each fix says which it needs.
    assert next(line for line in every if line.startswith("418a3ab1e778")).endswith(
        "(needs c7cdff0e8647)")
    bad = cli("fixes", "--between", "v4.8", "v4.99")
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith(
        "pagesim: unknown kernel preset 'v4.99' (did you mean 'v4.9' or 'v4.19'?)")


def test_python_dash_m_pagesim_is_the_command() -> None:
    r = subprocess.run([sys.executable, "-m", "pagesim", "presets"], check=False,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == cli("presets").stdout
    bad = subprocess.run([sys.executable, "-m", "pagesim", "presets", "--kernel"], check=False,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("usage: pagesim"), bad.stderr


def test_cli_presets_shows_each_release_as_its_predecessor_plus_commits() -> None:
    r = cli("presets")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    v414 = lines.index(next(line for line in lines if line.startswith("v4.14 ")))
    assert lines[v414 + 1].split() == [
        "v4.9", "+6afcf8ef0ca0,", "+73e64c51afc5,", "+no-watermark-check-in-compact-finished,",
        "+3bc48f96cf11,", "+02aa0cdd7248,", "+7a8f58f39188,", "+282722b0d258,", "+baf6a9a1db5a,",
        "+fix-zone-balance-check-in-prepare-kswapd-sleep,", "+e716f2eb24de,", "+c73322d098e4,",
        "+62906027091f,", "+77ff465799c6,", "+195a8c43e93d,", "+db8ffbd4e763,", "+f201ebd87652,",
        "+z3fold-fix-header-size-related-issues,", "+1b096e5ae9f7,", "+z3fold-use-per-page-spinlock,",
        "+5a27aa822029,", "+z3fold-fix-spinlock-unlocking-in-page-reclaim,",
        "+z3fold-fix-page-locking-in-z3fold-alloc,", "+d30561c56f41,",
        "+z3fold-fix-potential-race-in-z3fold-reclaim-page,", "+z3fold-fix-stale-list-handling"]
    assert lines[v414 + 2].split()[0] == "follows:"
    v44 = lines.index(next(line for line in lines if line.startswith("v4.4 ")))
    assert lines[v44 + 1].split()[0] == "fixes:"  # a root lists its whole set
    v47 = lines.index(next(line for line in lines if line.startswith("v4.7 ")))
    assert lines[v47 + 1].split()[:2] == ["v4.4", "+698b1b30642f,"]


def test_cli_runs_and_replays_a_preset_its_scenario_file_composes(tmp_path) -> None:
    stall = os.path.join(ROOT, "scenarios", "nr_isolated_stall.py") + "::nr_isolated_stall"
    out = tmp_path / "run.json"
    run = cli("run", stall, "--kernel", "v4.8+6afcf8ef0ca0", "--json", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("nr_isolated_stall [v4.8+6afcf8ef0ca0]: ok")
    assert json.loads(out.read_text())["preset"] == "v4.8+6afcf8ef0ca0"
    again = cli("replay", str(out))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == run.stdout.splitlines()[0]  # the same trace hash
    assert cli("run", stall, "--kernel", "v4.8+6afcf8ef0ca1").returncode == 2
