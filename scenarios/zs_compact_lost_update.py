"""Two zs_compacts lose an update of pool->stats.pages_compacted (Rokudo Yan, Feb 2021).

Report: 239592815805 "zsmalloc: account the number of compacted pages correctly" (Rokudo
Yan, 5.12; the commit as merged, in a stable mail, linux-mm archive id 2460394608): "There
exists multiple path may do zram compaction concurrently. 1. auto-compaction triggered
during memory reclaim 2. userspace utils write zram<id>/compaction node ... But
pages_compacted is a per zsmalloc pool variable and modification of the variable is not
serialized(through under class->lock). There are two issues here: 1. the pages_compacted
may not equal to total number of pages freed(due to concurrently add). 2. zs_shrinker_scan
may not return the correct number of pages freed(issued by current shrinker)."

`pool->stats.pages_compacted += class->pages_per_zspage` is a plain read-modify-write of
one pool word, done under the lock of the class being compacted: two compactions in two
classes can interleave their reads and writes, and one addition is lost. The model does a
read point and a write point on that word (object `pool->stats (pool 0)`), so dpor orders
them and finds the lost update; the end-of-run check compares the counter with the pages
compaction really freed.

The pool has two size classes. Class 1000 can be compacted (two zspages with one object
each). Class 3000 has a full zspage and one with one object: not compactable until the
user frees an object. The shrinker (zs_shrinker_scan) and a write to zram's compact node
(zs_compact) run while the user frees it: the compact node's zs_compact passes class 3000
while it is not compactable and compacts class 1000 while the shrinker, behind it, compacts
class 3000.

Buggy: v5.10. Under bounded dpor at preemption bound 1 (815 executions), 2 end with
`invariant:zsmalloc_check` "pool 0: pool->stats.pages_compacted is 1 but compaction freed 4
pages (a lost update)"; at bound 2, 267 of 47,521. Fixed: v5.15 (239592815805: each
zs_compact counts its pages locally and adds them with atomic_long_add): clean, dpor bound 2
exhausts 46,462 executions.
"""

import pagesim as ps


def fill(pool, size):
    """Objects of `size` until a second zspage opens: (the first zspage's handles, the second's)."""
    hs = [pool.malloc(size)]
    first = pool.pages_of(hs[0])[0]
    while True:
        h = pool.malloc(size)
        if pool.pages_of(h)[0] != first:
            return hs, [h]
        hs.append(h)


@ps.scenario(kernel="v5.10", cpus=3, pages=1024)
def zs_compact_lost_update(k):
    """The shrinker and zram's compact node compact the pool while a user frees an object."""
    pool = k.zsmalloc()
    full, _ = fill(pool, 3000)  # class 3000: a full zspage and one with one object
    y, _ = fill(pool, 1000)     # class 1000: the same, then all but one of the first freed
    for h in y[1:]:
        pool.free(h)
    store = k.cpu(1).run(pool.compact, name="compact_store")
    user = k.cpu(2).run(pool.free, full[0], name="user")
    shrinker = k.cpu(0).run("zs_shrinker_scan", pool.id, name="shrinker")
    return ps.script(store, user, shrinker)


LOST = "pool 0: pool->stats.pages_compacted is 1 but compaction freed 4 pages (a lost update)"


def test_v510_exploration_finds_the_lost_update():
    ex = zs_compact_lost_update.explore(strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.outcomes == {"ok": 813, "invariant:zsmalloc_check": 2}, ex
    run = ex.replay("invariant:zsmalloc_check")
    assert [o.message for o in run.outcomes] == [LOST], run.report()
    # Both compactions were inside __zs_compact at once: the racy step.
    lines = [line.strip() for line in run.diagram(depth=3).splitlines()]
    assert lines.count("zs_compact") == 2 and lines.index("zs_free") < lines.index("zs_compact", 4)


def test_the_scripted_run_is_clean():
    # One compaction after the other: nothing lost. The race needs the interleaving.
    run = zs_compact_lost_update.run()
    assert run.ok, run.report()


def test_v515_counts_locally_and_no_schedule_loses_an_update():
    ex = zs_compact_lost_update.explore(kernel="v5.15", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
    assert ex.proves_never("invariant")
