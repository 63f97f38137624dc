"""A zspage's fullness and isolation count undo each other's update (Andrew Yang, Jul 2023;
4b5d1e47b694).

Report: "[PATCH] zsmalloc: Fix races between modifications of fullness and isolated"
(Andrew Yang, 27 Jul 2023, linux-mm archive id 42537955120; merged as 4b5d1e47b694 in
6.5): "Since fullness and isolated share the same unsigned int, modifications of them
should be protected by the same lock." Fixes: c4549b871102.

struct zspage packs `huge`, `fullness`, `class`, `isolated` and `magic` into one word, and a
bit-field store is a load and a store of the whole word. Since 5.17 (c4549b871102) the
isolation count changes under the zspage lock (zs_page_isolate, zs_page_putback, and
zs_page_migrate after it drops the class lock) while the fullness changes under the class
lock (fix_fullness_group, putback_zspage): nothing orders the two read-modify-writes. The
model makes each a read point and a write point on the zspage.

A migration isolates T, a page of a full zspage; the pool's user frees one of its objects,
which moves the zspage from ZS_FULL to ZS_ALMOST_EMPTY. No script: bounded dpor finds both
lost updates.

- v6.1: dpor at preemption bound 1 exhausts 40 executions: ok 37,
  `bug:dec_zspage_isolation` 1 (the free's store undid the isolation's increment, and
  the migration's decrement meets `VM_BUG_ON(zspage->isolated == 0)`),
  `invariant:zsmalloc_check` 2 (zs_page_migrate's decrement, after it dropped the class
  lock, stored the word it had loaded before the free: the zspage sits on the
  ZS_ALMOST_EMPTY list and says ZS_FULL). At bound 2: ok 429, bug 18,
  invariant 23 (470).
- Fixed: 4b5d1e47b694 changes the count under pool->lock, the lock of the fullness since
  c0547d0b6a4b (6.2), so the fix needs it. 6.1.47 took both as stable backports (with
  d2658f2052c7): on v6.1 with the two, dpor bound 2 exhausts 198 executions, all clean. With c0547d0b6a4b alone the race stays (17 bug, 20 invariant of
  386). v5.15, where both updates are under class->lock: clean (508).

The pair is one scenario with a `fixes` parameter: `pagesim explore` (or
`@ps.parametrize`) runs `[fixes=none]` and `[fixes=+4b5d1e47b694+c0547d0b6a4b]`.
"""

import pagesim as ps

FIX = {"c0547d0b6a4b": True, "4b5d1e47b694": True}


@ps.scenario(kernel="v6.1", cpus=2, pages=512, params={"fixes": [{}, FIX]})
def zs_isolated_fullness_race(k):
    """A migration isolates T, a page of a full zspage; the user frees one of its objects."""
    pool = k.zsmalloc()
    full = [pool.malloc(3000) for _ in range(4)]  # class 3000: a full zspage of three pages
    T = pool.pages_of(full[0])[1]
    m = k.cpu(0).run(k.compaction.isolate, T, name="migrate")
    u = k.cpu(1).run(pool.free, full[0], name="user")
    return ps.script(m, u)


def test_the_scripted_run_is_clean():
    # The migration, then the free: nothing interleaves.
    run = zs_isolated_fullness_race.run()
    assert run.ok, run.report()


def test_v61_exploration_finds_both_lost_updates():
    ex = zs_isolated_fullness_race.explore(strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.outcomes == {
        "ok": 37, "bug:dec_zspage_isolation": 1, "invariant:zsmalloc_check": 2}, ex
    bug = ex.replay("bug:dec_zspage_isolation")
    assert bug.outcomes[0].message == "VM_BUG_ON(zspage->isolated == 0)", bug.report()
    assert "kernel BUG at mm/zsmalloc.c:1793!" in bug.report()  # 6.1.20's dec_zspage_isolation
    lost = ex.replay("invariant:zsmalloc_check")
    assert [o.message for o in lost.outcomes] == [
        "zspage 1: fullness full but inuse 3 makes it almost_empty",
        "zspage 1: on list 1, fullness full"], lost.report()
    # The racy step: the user's free ran inside zs_page_migrate's decrement, after the
    # migration dropped the class lock and before it took its reference to the new page.
    lines = [line.strip() for line in lost.diagram(depth=7).splitlines()]
    assert lines.index("zs_page_migrate") < lines.index("zs_free") < lines.index("get_page")


@ps.parametrize(zs_isolated_fullness_race)
def test_both_directions_at_bound_2(scenario):
    # One test per variant: without the fixes both lost updates, with them none.
    ex = scenario.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    if scenario.bound["fixes"]:
        assert ex.outcomes == {"ok": 198}, ex
        assert ex.proves_never("invariant:zsmalloc_check")
        assert ex.proves_never("bug:dec_zspage_isolation")
    else:
        assert ex.outcomes == {"ok": 429, "bug:dec_zspage_isolation": 18,
                               "invariant:zsmalloc_check": 23}, ex


def test_before_5_17_no_schedule_fails():
    ex = zs_isolated_fullness_race.explore(kernel="v5.15", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
    assert ex.proves_never("invariant:zsmalloc_check")
    assert ex.proves_never("bug:dec_zspage_isolation")
