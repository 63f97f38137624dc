"""free_handle of a foreign handle drops the slots' lock, and the old page's release frees
the slots under it (Uladzislau Rezki, May 2020; d8f117abb380).

Report: d8f117abb380 "z3fold: fix use-after-free when freeing handles" (5.7; akpm's
[patch 10/11], linux-mm archive id 46513539638): "free_handle() for a foreign handle may race
with inter-page compaction, what can lead to memory corruption. To avoid that, take write
lock not read lock in free_handle to be synchronized with __release_z3fold_page()." Seen
as "BUG: KASAN: use-after-free in LZ4_decompress_safe" on a 4.19 with the z3fold of 5.5.

Page P1 holds a and b (500 bytes each), page P2 a 3000-byte object c with 15 chunks free.
Freeing b queues P1's compaction, whose compact_single_buddy moves a, now P1's only
object, into P2: a's handle stays in P1's slots, foreign to P2. Freeing a meanwhile,
free_handle zeroes a's slot under the slots' write lock, and 5.5's drops it there and
takes the read lock again for the HANDLES_ORPHANED test. Between the two, the compaction
work's put releases P1 and __release_z3fold_page frees P1's slots, which are all zero now:
free_handle's read lock is on freed memory (`uaf:free_handle`).

- Buggy: `v5.10` without `d8f117abb380` (5.5 and 5.6; `v5.4` has no inter-page
  compaction). Bounded dpor (preemption bound 2) finds it in 1 of 1161 executions.
- Fixed: `v5.10`: the release's read lock waits for free_handle's write lock; 1159
  executions, all clean.
- Before 4a3ac9311dac (`v5.4`) no object moves between pages: 236 executions, all clean;
  `v5.4` with 4a3ac9311dac alone has the race (1 of 1161): the inter-page compaction
  brought it.
"""

import pagesim as ps

BUGGY = {"d8f117abb380": False}


@ps.scenario(kernel="v5.10", cpus=2, pages=512)
def z3fold_free_handle_uaf(k):
    """Free b (compaction moves a to P2) and free a, on two CPUs."""
    pool = k.z3fold()
    a = pool.alloc(500)
    b = pool.alloc(500)
    pool.alloc(3000)  # P2, with room for a
    k.cpu(0).run(pool.free, b, name="free_b")
    k.cpu(1).run(pool.free, a, name="free_a")


def test_without_the_fix_dpor_finds_the_release_freeing_the_slots():
    ex = z3fold_free_handle_uaf.explore(fixes=BUGGY, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 1160, "uaf:free_handle": 1}, ex
    run = ex.replay("uaf:free_handle")
    report = run.report()
    assert "Read of struct z3fold_buddy_slots 1 by task free_a" in report
    assert "Freed by task kworker/0:z3fold compact:\n __release_z3fold_page\n do_compact_page" in report
    # The racy step: a was moved (compact_single_buddy) before its free, and the release
    # came between free_handle's write_unlock and its read_lock of the same slots.
    steps = [(e["task"], e["func"], e["op"]) for e in run.trace()
             if e["kind"] == "step" and e.get("obj") == "z3fold slots 1"]
    unlock = steps.index(("free_a", "free_handle", "write_unlock"))
    assert ("kworker/0:z3fold compact", "__release_z3fold_page", "read_lock") in steps[unlock:]
    assert steps[-1] == ("free_a", "free_handle", "read_lock"), steps
    assert "compact_single_buddy" in [e["func"] for e in run.trace() if e["kind"] == "enter"]


def test_inter_page_compaction_brought_it():
    ex = z3fold_free_handle_uaf.explore(kernel="v5.4", strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 236}, ex
    assert ex.never("uaf")
    ex = z3fold_free_handle_uaf.explore(kernel="v5.4", fixes={"4a3ac9311dac": True},
                                        strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 1160, "uaf:free_handle": 1}, ex


def test_with_the_fix_every_schedule_with_two_preemptions_is_clean():
    ex = z3fold_free_handle_uaf.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 1159}, ex
