"""kswapd (`kswapd=True`) and what it calls: the shrinkers of zsmalloc pools.

kswapd reclaims no LRU page in the model, and shrink_slab() then asks each shrinker for
twice what it counts (4.8 to 4.15: nr_scanned is raised to SWAP_CLUSTER_MAX and no LRU
page is eligible), so a zsmalloc pool with pages to compact is compacted by kswapd.
"""

from __future__ import annotations

import pagesim as ps
import pagesim._core as core
import pytest


def entered(run, task: str) -> set[str]:
    """The model functions `task` entered."""
    return {e["func"] for e in run.trace() if e["kind"] == "enter" and e.get("task") == task}


def compactable_pool(k):
    """A pool whose class of 2000-byte objects has every other object freed; and the
    objects left."""
    pool = k.zsmalloc()
    handles = [pool.malloc(2000) for _ in range(40)]
    for h in handles[::2]:
        pool.free(h)
    return pool, handles[1::2]


@ps.scenario(kernel="v4.14", cpus=2, pages=512, kswapd=True)
def kswapd_shrinks_zsmalloc(k):
    """The process takes its last pages below the low watermark: kswapd runs."""
    compactable_pool(k)
    app = k.process("app")
    app.fault_in(400)
    k.cpu(1).run(app.fault_in, 40, name="app")


def pages_to_compact(kernel: str) -> int:
    """zs_shrinker_count at the start: the pages compaction could free."""
    k = core.Kernel(preset=kernel, pages=512)
    pool = k.call("zs_create_pool")
    handles = [k.call("zs_malloc", pool, 2000) for _ in range(40)]
    for h in handles[::2]:
        k.call("zs_free", pool, h)
    return sum(c["pages_per_zspage"] * ((c["objs_allocated"] - c["objs_used"]) // c["objs_per_zspage"])
               for c in core.zs_stats(k.state, pool)["classes"])


@pytest.mark.parametrize("kernel", ["v4.8", "v4.14"])
def test_kswapd_compacts_a_zsmalloc_pool_through_its_shrinker(kernel: str) -> None:
    freeable = pages_to_compact(kernel)
    assert freeable > 0
    run = kswapd_shrinks_zsmalloc.run(kernel=kernel)
    stats = run.kernel.stats
    # One scan of 2 * freeable (below SHRINK_BATCH), which compacts the whole pool; every
    # later count is 0.
    assert stats["slabs_scanned"] == 2 * freeable, stats
    assert core.zs_stats(run.kernel, 0)["pages_compacted"] == freeable
    assert "zs_shrinker_scan" in entered(run, "kswapd0")
    # 4.8's kswapd still cannot balance the node; 4.14's gives it up.
    assert [o.key for o in run.outcomes] == (["hang"] if kernel == "v4.8" else []), run.report()


@ps.scenario(kernel="v4.14", cpus=2, pages=512, kswapd=True)
def reset_while_kswapd_shrinks(k):
    """zram's reset frees the objects and destroys the pool while kswapd, woken by the
    process's last faults, compacts it through its shrinker."""
    pool, left = compactable_pool(k)
    app = k.process("app")
    app.fault_in(400)
    k.cpu(1).run(app.fault_in, 40, name="app")

    def reset():
        for h in left:
            yield ps.call("zs_free", pool.id, h)
        yield ps.call("zs_destroy_pool", pool.id)

    k.cpu(1).run(reset, name="zram_reset")


def test_unregister_shrinker_waits_for_kswapd_to_leave_the_pool():
    """shrinker_rwsem: kswapd counts and scans the pool's shrinker under it for read, and
    unregister_shrinker takes it for write before the pool is freed, so no schedule has
    kswapd use the freed pool, or compaction lose an object the reset frees."""
    ex = reset_while_kswapd_shrinks.explore(strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.outcomes == {"ok": 415}, ex
    run = reset_while_kswapd_shrinks.run()
    assert run.ok and run.kernel.stats["slabs_scanned"] > 0, run.report()


@ps.scenario(kernel="v4.19", cpus=2, pages=512, kswapd=True)
def kswapd_deflates_the_balloon(k):
    """A balloon of 20 pages; the process takes its last pages below the low watermark."""
    k.balloon().fill(20)
    app = k.process("app")
    app.fault_in(380)
    k.cpu(1).run(app.fault_in, 60, name="app")


def test_kswapd_deflates_the_balloon_through_its_shrinker_on_v4_19():
    """71994620bb25's shrinker is registered at probe (DEFLATE_ON_OOM); kswapd's
    shrink_slab asks it for the whole balloon at its first priority (172b06c32b94's
    minimum, min(20, 128)), and the 20 pages go back to the allocator."""
    run = kswapd_deflates_the_balloon.run()
    assert run.ok, run.report()
    stats = run.kernel.stats
    assert stats["nr_balloon_pages"] == 0 and stats["slabs_scanned"] == 20, stats
    assert "virtio_balloon_shrinker_scan" in entered(run, "kswapd0")
    # Without 172b06c32b94 (5.0 reverted it) the balloon is asked for (20 >> p) * 2 plus
    # what was deferred: nothing scanned down to priority 2 (2, 6 and 16 deferred at 4, 3
    # and 2), then 16 + 20 = 36 at priority 1, which deflates all 20 pages.
    run = kswapd_deflates_the_balloon.run(fixes={"172b06c32b94": False})
    assert run.ok, run.report()
    stats = run.kernel.stats
    assert stats["slabs_scanned"] == 36 and stats["nr_balloon_pages"] == 0, stats
    # v4.14 has no balloon shrinker (an OOM notifier): kswapd leaves the balloon alone.
    run = kswapd_deflates_the_balloon.run(kernel="v4.14")
    assert run.kernel.stats["nr_balloon_pages"] == 20 and run.kernel.stats["slabs_scanned"] == 0


def kernel_allocation():
    """An unmovable order-0 allocation that may wake kswapd."""
    yield ps.call("alloc_pages", 0, "GFP_KERNEL")


@ps.scenario(kernel="v5.4", cpus=2, pages=2048, kswapd=True)
def fallback_boosts_the_watermarks(k):
    """A zsmalloc pool with pages to compact; half of a process's pages unmapped, so a
    kernel allocation falls back to a movable pageblock, below pageblock_order."""
    compactable_pool(k)
    app = k.process("app")
    n = app.fault_in(1900)
    for v in range(0, n, 2):
        app.unmap(v)
    k.cpu(1).run(kernel_allocation, name="t")


def test_a_fallback_boost_wakes_kswapd_on_v5_4():
    """1c30844d2dfe: the steal boosts the zone by a pageblock and rmqueue wakes kswapd
    (73444bc4d8f9); the node is balanced at its boosted watermarks, so kswapd runs a
    boosted pass, which calls the shrinkers (5.3's "do not special-case slab reclaim"),
    reclaims nothing, takes the boost off and wakes kcompactd for a pageblock."""
    run = fallback_boosts_the_watermarks.run()
    assert run.ok, run.report()
    stats = run.kernel.stats
    assert stats["pageoutrun"] == 1 and stats["slabs_scanned"] == 0, stats
    assert run.kernel.zones()[0]["watermark_boost"] == 0
    # The pool's shrinker is counted at priority 12 (its share, count >> 12, is nothing).
    assert {"balance_pgdat", "zs_shrinker_count", "wakeup_kcompactd"} <= entered(run, "kswapd0")
    assert "wakeup_kswapd" in entered(run, "t")
    # 5.0 to 5.2: the boosted pass leaves the shrinkers out.
    run = fallback_boosts_the_watermarks.run(
        fixes={"do-not-special-case-slab-reclaim-when-boosted": False})
    assert run.ok and run.kernel.stats["pageoutrun"] == 1, run.report()
    assert "zs_shrinker_count" not in entered(run, "kswapd0")
    assert "wakeup_kcompactd" in entered(run, "kswapd0")
    # 4.19 has no boost: kswapd stays asleep.
    run = fallback_boosts_the_watermarks.run(kernel="v4.19")
    assert run.ok and run.kernel.stats["pageoutrun"] == 0, run.report()
    assert "wakeup_kswapd" not in entered(run, "t")


def test_the_boost_is_explored_clean_on_v5_4():
    ex = fallback_boosts_the_watermarks.explore(strategy="dpor", preemption_bound=1)
    assert ex.exhausted and ex.outcomes == {"ok": 18}, ex
