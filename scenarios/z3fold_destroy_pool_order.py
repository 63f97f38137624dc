"""z3fold_destroy_pool destroys what its pending work still uses (Henry Burns, Aug 2019;
6051d3bd3b91 and b997052bc3ac, 5.3-rc5).

Reports (linux-mm archive ids 37635364523 and 37438753597):

- 6051d3bd3b91 "mm/z3fold.c: fix z3fold_destroy_pool() ordering": "The constraint from
  the zpool use of z3fold_destroy_pool() is there are no outstanding handles to memory
  (so no active allocations), but it is possible for there to be outstanding work on
  either of the two wqs in the pool. ... destroy_workqueue(pool->release_wq);
  destroy_workqueue(pool->compact_wq); drain_workqueue(wq); do_compact_page(zhdr);
  kref_put(&zhdr->refcount); __release_z3fold_page(zhdr, ...);
  queue_work_on(pool->release_wq, &pool->work); *BOOM*"
- b997052bc3ac "mm/z3fold.c: fix z3fold_destroy_pool() race condition": "Calling
  z3fold_deregister_migration() before the workqueues are drained means that there can be
  allocated pages referencing a freed inode, causing any thread in compaction to be able
  to trip over the bad pointer in PageMovable()."

zswap frees the pool's objects and destroys the (empty) pool at once; the works their
frees queued have not run yet.

- `z3fold_destroy_with_compaction_pending`: P held a and b. The free of a queued P's
  compaction (a reference), the free of b found it queued. 5.2 destroys release_wq first,
  then drains compact_wq: the compaction drops P's last reference and queues the release
  on the destroyed release_wq: `uaf:__release_z3fold_page` ("Write of struct
  workqueue_struct z3fold release"), on `v5.4` without 6051d3bd3b91.
- `z3fold_destroy_with_release_pending`: P held a; its free put P on the stale list for
  the release work. 5.2 puts the pool's inode first; the release work's
  free_z3fold_page, __ClearPageMovable under the page lock, reads P's mapping, the
  inode: `uaf:PageMovable`, on `v5.4` without b997052bc3ac.
- `v5.4`: both exhausted clean under dpor at preemption bound 2 (`v6.1` has no inode,
  68f2736a8583, and keeps 6051d3bd3b91's order).
"""

import pagesim as ps


def zswap(pool, handles):
    for h in handles:
        yield ps.call("z3fold_free", pool.id, h)
    yield ps.call("z3fold_destroy_pool", pool.id)


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_destroy_with_compaction_pending(k):
    pool = k.z3fold()
    hs = [pool.alloc(1000), pool.alloc(1000)]
    k.cpu(0).run(zswap, pool, hs, name="zswap")


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_destroy_with_release_pending(k):
    pool = k.z3fold()
    k.cpu(0).run(zswap, pool, [pool.alloc(1000)], name="zswap")


def test_a_pending_compaction_queues_the_release_on_the_destroyed_release_wq():
    run = z3fold_destroy_with_compaction_pending.run(fixes={"6051d3bd3b91": False})
    assert [o.key for o in run.outcomes] == ["uaf:__release_z3fold_page"], run.report()
    report = run.report()
    assert "Write of struct workqueue_struct z3fold release by task kworker/0:z3fold compact" in report
    assert "Freed by task zswap:\n z3fold_destroy_pool" in report
    assert "Call Trace:\n __release_z3fold_page\n do_compact_page\n compact_page_work" in report


def test_a_pending_release_reads_the_put_inode():
    run = z3fold_destroy_with_release_pending.run(fixes={"b997052bc3ac": False})
    assert [o.key for o in run.outcomes] == ["uaf:PageMovable"], run.report()
    report = run.report()
    assert "Read of struct address_space z3fold:z3fold by task kworker/0:z3fold release" in report
    assert "free_z3fold_page\n free_pages_work" in report


def test_the_fixed_order_is_clean_under_exploration():
    for scene in (z3fold_destroy_with_compaction_pending, z3fold_destroy_with_release_pending):
        ex = scene.explore(strategy="dpor", preemption_bound=2)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
        ex = scene.explore(kernel="v6.1", strategy="dpor", preemption_bound=2)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, ex
