"""Compaction stalls behind isolated zsmalloc pages (Ming Ling, fixed by 6afcf8ef0ca0).

Report: "[PATCH] mm, compaction: fix NR_ISOLATED_* stats for pfn based migration" (Michal
Hocko for Ming Ling, 19 Oct 2016, linux-mm archive id 3810028863): since bda807d44454
"isolate_migratepages_block) can isolate !PageLRU pages which would acct_isolated account
as NR_ISOLATED_*. Accounting these non-lru pages NR_ISOLATED_{ANON,FILE} doesn't make any
sense and it can misguide heuristics based on those counters such as
pgdat_reclaimable_pages resp. too_many_isolated which would lead to unexpected stalls
during the direct reclaim without any good reason." The machine it names is a 512M
Android phone whose zram (zsmalloc) holds more pages than its LRU lists.

Here zsmalloc holds a zspage of three pages and a process has two pages on the LRU.
Compaction context A compacts the zspage's pages: 4.8's acct_isolated counts the three in
NR_ISOLATED_FILE. Compaction context B (sync-light, as direct compaction's second pass)
starts on an LRU page meanwhile; `too_many_isolated()` finds 3 isolated against
(inactive + active) / 2 = 1, so B sleeps in `congestion_wait(BLK_RW_ASYNC, HZ/10)` and
looks again only when its 100 ms are over (since 5.16, d818fca1cac3, it sleeps in
`reclaim_throttle()` for HZ/50 instead). The check `no_stall` is what a user of the phone
sees: B's compaction took at least one throttle period.

Buggy presets: v4.8 and v4.9 (the fix was merged for 4.10). Fixed: v4.14, which has
6afcf8ef0ca0: non-LRU pages are not counted, and B never waits.

v4.8 under bounded dpor (preemption bound 2, exhausted, 524 executions): ok 505,
where B reads the counters before A's acct_isolated or after A's migrations have
brought them back; check:no_stall 19, where B reads them in between. v4.14 is clean in
every schedule (451 executions).
"""

import pagesim as ps
import pytest

# The shortest wait of a throttled compaction on any preset, in simulated nanoseconds:
# reclaim_throttle's HZ/50 since 5.16 (d818fca1cac3); before, congestion_wait's HZ/10.
HZ_50 = 20_000_000

# 4.8 with the one fix backported: a preset composed here, usable as --kernel anywhere
# this file is loaded (defined at module level, so replays and Ray workers know it too).
V48_BACKPORT = ps.preset("v4.8+6afcf8ef0ca0", base="v4.8", fixes={"6afcf8ef0ca0": True})


@ps.scenario(kernel="v4.8", cpus=2, pages=1024)
def nr_isolated_stall(k):
    """A compacts a zspage's three pages; B compacts an LRU page meanwhile."""
    pool = k.zsmalloc()
    zspage = pool.pages_of(pool.malloc(3000))
    lru = k.process("app")
    lru.fault_in(2)
    L = lru.pages()[0]

    def compact_B():
        start = yield ps.now()
        yield ps.call("compact_range", L, L + 1, 1)
        took = (yield ps.now()) - start
        yield ps.check(took < HZ_50, "no_stall",
                       f"compaction of one LRU page took {took // 1_000_000} ms")

    a = k.cpu(0).run(k.compaction.range, min(zspage), max(zspage) + 1, 2, name="compact_A")
    b = k.cpu(1).run(compact_B, name="compact_B")
    # A has isolated and accounted the zspage's pages and is migrating them when B starts.
    return ps.script(a.before("migrate_pages"), b, a)


@pytest.mark.parametrize("kernel", ["v4.8", "v4.9"])
def test_v48_stalls_b_behind_the_zsmalloc_pages_a_isolated(kernel):
    run = nr_isolated_stall.run(kernel=kernel)
    assert run.has("check:no_stall"), run.report()
    assert [o.key for o in run.outcomes] == ["check:no_stall"]
    # B reached the throttle: it slept in congestion_wait, called from the scanner.
    lines = [line.strip() for line in run.diagram(depth=4).splitlines()]
    assert "congestion_wait" in lines, run.diagram(depth=4)
    assert run.result.script_status[0]["last_function"] == "compact_range"  # A isolated


def test_v414_does_not_count_them_and_the_same_script_is_clean():
    run = nr_isolated_stall.run(kernel="v4.14")
    assert run.ok, run.report()
    assert run.result.checks == ["no_stall"]  # it ran, and held
    assert "congestion_wait" not in run.diagram(depth=4)


def test_v48_outcome_set_under_bounded_dpor():
    ex = nr_isolated_stall.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert set(ex.outcomes) == {"ok", "check:no_stall"}, ex


@pytest.mark.parametrize("kernel", ["v4.14"])
def test_with_the_fix_no_schedule_stalls(kernel):
    ex = nr_isolated_stall.explore(kernel=kernel, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
    assert ex.proves_never("check:no_stall")


def test_the_fix_backported_to_v48_alone_removes_the_stall():
    flipped = nr_isolated_stall.explore(strategy="dpor", preemption_bound=2,
                                        fixes={"6afcf8ef0ca0": True})
    assert flipped.exhausted and flipped.outcomes == {"ok": flipped.executions}, flipped
    backport = nr_isolated_stall.explore(kernel=V48_BACKPORT, strategy="dpor", preemption_bound=2)
    assert backport.preset == "v4.8+6afcf8ef0ca0"
    assert backport.outcomes == flipped.outcomes  # the same kernel, by another name
