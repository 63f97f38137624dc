"""A small zone's watermark boost fails its allocations with half of it free (Henry
Willard, April 2020; 14f69140ff9c "mm: limit boost_watermark on small zones", 5.7 and
5.4.41).

Report, in the changelog (the 5.4.41 stable patch, linux-mm archive id 46298521708):
"Commit 1c30844d2dfe ... adds a boost_watermark() function which increases the min
watermark in a zone by at least pageblock_nr_pages ... It does this regardless of the
number of managed pages managed in the zone ... This can put the zone immediately under
water in terms of allocating pages from the zone, and can cause a small machine to fail
immediately due to OoM ... A capture kernel running in 768M can fail due to OoM
immediately after boost_watermark() sets the min in zone DMA32, where most of the memory
is, to 512M. It fails even though there is over 500M of free memory." The fix: no boost
in a zone of fewer than four pageblocks.

The capture kernel's arm64 pageblocks are 512 MiB of 64 KiB pages; here they are 2 MiB of
4 KiB pages, and the machine is one zone of two of them (1024 pages: min watermark 64).
A process's pages fill it and half are unmapped, so no free block is as large as a
pageblock. A kernel allocation finds no unmovable page and falls back: it steals from a
movable pageblock (below pageblock_order), which boosts the zone's watermarks by a
pageblock (512 pages, the cap being max(pageblock_nr_pages, 150% of high)) and owes
kswapd a wakeup. The next allocation checks the min watermark, now 576 pages, against
the 543 free, and fails, unless kswapd has run first: kswapd's balance_pgdat() takes the
boost it saw off (the boosted node is not balanced: it gives the boost up for a normal
reclaim, which reclaims nothing in the model, and takes the boost off at its end).

- `v5.4` (1c30844d2dfe): the second allocation fails in the schedules where it comes
  before kswapd's balance_pgdat() ends (`check:allocation_succeeds`: dpor at preemption
  bound 2, 246 of 418 executions).
- `v5.4` with 14f69140ff9c (5.4.41; `v5.10` has it, but refuses `kswapd=True`): the zone
  is not boosted; dpor at bound 2, 108 executions, all clean.
"""

import pagesim as ps

FIXED = {"14f69140ff9c": True}


def capture_kernel():
    """Two order-0 kernel allocations: the first falls back (and boosts), the second
    needs the min watermark."""
    first = yield ps.call("alloc_pages", 0, "GFP_KERNEL")
    second = yield ps.call("alloc_pages", 0, "GFP_KERNEL")
    yield ps.check(first != -1 and second != -1, "allocation_succeeds",
                   "an order-0 GFP_KERNEL allocation failed with half the zone free")


@ps.scenario(kernel="v5.4", cpus=2, pages=1024, kswapd=True)
def boost_small_zone(k):
    """A zone of two pageblocks, half free in pieces; the kernel allocates twice."""
    app = k.process("app")
    n = app.fault_in(1000)
    for v in range(0, n, 2):
        app.unmap(v)
    k.cpu(1).run(capture_kernel, name="capture")


def test_the_boost_fails_the_next_allocation():
    ex = boost_small_zone.explore(strategy="dpor", preemption_bound=2)
    run = ex.replay("check:allocation_succeeds")
    assert run.outcome_counts == {"check:allocation_succeeds": 1}, run.report()
    # The racy step: when the second allocation starts, the first has boosted the zone by a
    # pageblock, and its min watermark (64 + 512) is above its free pages.
    second = [e["step"] for e in run.trace()
              if e["task"] == "capture" and e["kind"] == "enter" and e["func"] == "alloc_pages"][1]
    zone = run.state_at(second).zones()[0]
    assert (zone["watermark"], zone["watermark_boost"], zone["free_pages"]) == ((64, 80, 96), 512, 543)
    # kswapd, woken by the first allocation, took the boost off after it: one run.
    assert run.kernel.zones()[0]["watermark_boost"] == 0
    assert run.kernel.stats["pageoutrun"] == 1


def test_explored_both_ways():
    ex = boost_small_zone.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"check:allocation_succeeds": 246, "ok": 172}, ex
    ex = boost_small_zone.explore(fixes=FIXED, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 108}, ex
    assert ex.found.checks == {"allocation_succeeds"}  # the check was evaluated
