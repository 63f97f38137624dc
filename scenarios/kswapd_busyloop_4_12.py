"""kswapd spins at 100% CPU on a node it cannot reclaim from (Jia He, February 2017;
c73322d098e4 "mm: fix 100% CPU kswapd busyloop on unreclaimable nodes", 4.12).

Report, in the changelog (v2 of the patch, linux-mm archive id 24478979887): "Jia He
reports a problem with kswapd spinning at 100% CPU when requesting more hugepages than
memory available in the system ... At that time, there are no reclaimable pages left in the
node, but as kswapd fails to restore the high watermarks it refuses to go to sleep." The
fix: "If kswapd runs through MAX_RECLAIM_RETRIES (16) cycles without reclaiming a single
page, make it back off from the node ... Kswapd will go to sleep on that node until a
direct reclaimer manages to reclaim some pages".

Jia He's memory went to hugetlb pages; here a process's anonymous pages take it (there is
no swap, so they cannot be reclaimed either). The process faults in its last pages below
the low watermark: each of those allocations enters the slow path and wakes kswapd.
kswapd's balance_pgdat() runs its twelve priorities, reclaims nothing, and kswapd cannot
sleep because the zone is below its high watermark.

- `v4.8`: kswapd never sleeps. Once the process is done nothing changes what kswapd looks
  at, and its loop is all that runs: the outcome is `hang`, kswapd0 in its cond_resched()
  loop (the model stops a loop whose next pass would see what its last one saw).
- `v4.14` (with c73322d098e4): the 16th balance_pgdat() without progress makes the node
  hopeless; kswapd sleeps and later wakeups leave it alone. Clean under dpor.
"""

import pagesim as ps

BUGGY = {"c73322d098e4": False}


@ps.scenario(kernel="v4.14", cpus=2, pages=512, kswapd=True)
def unreclaimable_node(k):
    """All memory but the watermarks is anonymous; the process takes its last pages."""
    app = k.process("app")
    app.fault_in(440)  # 72 pages free: above the low watermark (56), below the high (67) soon
    k.cpu(1).run(app.fault_in, 30, name="app")


def test_kswapd_spins_on_the_unreclaimable_node():
    run = unreclaimable_node.run(fixes=BUGGY)
    assert [o.key for o in run.outcomes] == ["hang"], run.report()
    assert "kswapd0 (cpu0) sleeps on cond_resched (balance_pgdat" in run.report()
    stats = run.kernel.stats
    # The racy step: the allocations woke kswapd, which ran balance_pgdat and then could
    # not sleep (the zone below its high watermark).
    assert stats["pageoutrun"] >= 2 and stats["kswapd_high_wmark_hit_quickly"] >= 2, stats
    assert stats["nr_free_pages"] == 45, stats  # the min watermark: the last faults failed
    for kernel in ("v4.8", "v4.9"):  # before 4.12
        assert [o.key for o in unreclaimable_node.run(kernel=kernel).outcomes] == ["hang"], kernel


def test_with_the_fix_kswapd_gives_up_after_16_runs():
    run = unreclaimable_node.run()
    assert run.ok, run.report()
    stats = run.kernel.stats
    assert stats["pageoutrun"] == 16, stats  # MAX_RECLAIM_RETRIES, then hopeless
    assert stats["compact_daemon_wake"] == 0  # an order-0 request wakes no kcompactd


def test_explored_both_ways():
    ex = unreclaimable_node.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 59644}, ex
    ex = unreclaimable_node.explore(fixes=BUGGY, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"hang": 10424}, ex
