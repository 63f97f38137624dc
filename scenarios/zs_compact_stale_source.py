"""Compaction puts a source zspage back twice, after a user freed it (Yu Zhao, Apr 2023;
f7ddb6125683).

Report: f7ddb6125683 "zsmalloc: reset compaction source zspage pointer after
putback_zspage()" (Sergey Senozhatsky, 6.4; reported and tested by Yu Zhao; the patch in
the linux-mm archive, id 24138235286): "The current implementation of the compaction loop
fails to set the source zspage pointer to NULL in all cases, leading to a potential issue
where __zs_compact() could use a stale zspage pointer. This pointer could even point to a
previously freed zspage, causing unexpected behavior in the putback_zspage() and
migrate_write_unlock() functions after returning from the compaction loop."
Fixes: 5a845e9f2d66 ("zsmalloc: rework compaction algorithm").

Since 5a845e9f2d66, `__zs_compact()` fills one destination zspage from as many sources as
it takes. It cleared `src_zspage` only when the source was freed. A source that still had
objects was put back on its fullness list and unlocked, but stayed in `src_zspage`. Once the
destination is full, compaction drops `pool->lock` (`cond_resched()`). A user can then free
the source's last object, and `zs_free()` frees the zspage. If the class is no longer worth
compacting, the loop ends and the stale source is put back and unlocked again: KASAN
reports a use-after-free of the struct zspage in `putback_zspage()`.

Class 1000 (four objects a zspage) holds three zspages: A and C with three objects, B with
two. Compaction fills A or C from B, which keeps one object; the user frees that object.
No script orders them: bounded dpor finds the schedule.

- Buggy: `v6.6` with f7ddb6125683 flipped off. Dpor at preemption bound 1 exhausts 135
  executions: ok 134, `uaf:__zs_compact` 1 (putback_zspage, a static function the kernel
  inlines, reads the zspage the user's zs_free freed); at bound 2, 3 of 433.
- Fixed: `v6.6`: dpor bound 2 exhausts 433 executions, all clean.

No released kernel has 5a845e9f2d66 without f7ddb6125683: both are in 6.4.
"""

import pagesim as ps


@ps.scenario(kernel="v6.6", fixes={"f7ddb6125683": False}, cpus=2, pages=512)
def zs_compact_stale_source(k):
    """Compaction of class 1000 while the user frees the object its source keeps."""
    pool = k.zsmalloc()
    hs = [pool.malloc(1000) for _ in range(12)]  # zspages A, B, C, four objects each
    for h in (hs[0], hs[4], hs[5], hs[8]):
        pool.free(h)
    # B keeps hs[6] and hs[7]; compaction moves hs[6] into the fuller zspage and B keeps hs[7].
    c = k.cpu(0).run(pool.compact, name="compactor")
    u = k.cpu(1).run(pool.free, hs[7], name="user")
    return ps.script(c, u)


def test_the_scripted_run_is_clean():
    # The compaction, then the free: the source is gone before anyone frees it.
    run = zs_compact_stale_source.run()
    assert run.ok, run.report()


def test_exploration_finds_the_stale_source_freed_under_compaction():
    ex = zs_compact_stale_source.explore(strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.outcomes == {"ok": 134, "uaf:__zs_compact": 1}, ex
    run = ex.replay("uaf:__zs_compact")
    report = run.report()
    assert run.outcomes[0].message == "KASAN: use-after-free in __zs_compact", report
    # The racy step: the user's zs_free freed the zspage while compaction had dropped
    # pool->lock, and compaction read it after.
    assert "Read of struct zspage 2 by task compactor" in report
    assert "Freed by task user:\n __free_zspage\n free_zspage\n zs_free" in report


def test_with_the_fix_no_schedule_touches_a_freed_zspage():
    ex = zs_compact_stale_source.explore(fixes={"f7ddb6125683": True}, strategy="dpor",
                                         preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 433}, ex
    assert ex.proves_never("uaf")
