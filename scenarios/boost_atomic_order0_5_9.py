"""A boosted zone fails an order-0 GFP_ATOMIC allocation with memory free (Charan Teja
Reddy, May 2020; f80b08fc4453 "mm, page_alloc: skip ->watermark_boost for atomic order-0
allocations", 5.9; Ralph Siemsen asked for it in 5.4.y).

Report, in the changelog (Ralph Siemsen's 5.4.y backport, linux-mm archive id
46223665767): "When boosting is enabled, it is observed that rate of atomic order-0
allocation failures are high due to the fact that free levels in the system are checked
with ->watermark_boost offset. This is not a problem for sleepable allocations but for
atomic allocations which looks like regression." On Android (4 GB), after extfrag events
"->watermark_boost can be set to max i.e. default boost factor makes it to 150% of high
watermark ... boosting makes the min_wmark to ~61MB thus for an atomic order-0 allocation
to be successful system should have minimum of ~23MB of free memory". Ralph, on 5.4 with
256 MB: "The backtrace shows a 0-order GFP_ATOMIC was requested, with quite a bit of
memory available, and yet the allocation fails." The fix (with its -fix, Mel Gorman's
suggestion): an order-0 __GFP_ATOMIC allocation that fails the min watermark tests it
again without the boost.

Here a zone of four pageblocks (2048 pages: min 90, low 112, high 134) has 150 pages free
after a process's faults, in pieces below a pageblock. A kernel allocation falls back and
steals, which boosts the zone by a pageblock (its min watermark becomes 602) and wakes
kswapd. A GFP_ATOMIC allocation then needs 602 less a half and a quarter (ALLOC_HIGH,
ALLOC_HARDER): 226 pages, with 149 free, and fails, unless kswapd, which reclaims nothing
in the model, has taken the boost off first.

- `v5.4` (1c30844d2dfe): the atomic allocation fails in the schedules where it comes
  before kswapd's balance_pgdat() ends (`check:atomic_allocation_succeeds`: dpor at
  preemption bound 2, 246 of 418 executions).
- `v5.4` with f80b08fc4453 (as Ralph's backport; `v5.10` has it, but refuses
  `kswapd=True`): the atomic allocation tests the min watermark without the boost (90,
  less the same: 34) and succeeds; dpor at bound 2, 679 executions, all clean.
"""

import pagesim as ps

FIXED = {"f80b08fc4453": True}


def network_rx():
    """A kernel allocation that falls back (and boosts), then an atomic one, as a
    network driver's receive path makes."""
    yield ps.call("alloc_pages", 0, "GFP_KERNEL")
    page = yield ps.call("alloc_pages", 0, "GFP_ATOMIC")
    yield ps.check(page != -1, "atomic_allocation_succeeds",
                   "an order-0 GFP_ATOMIC allocation failed with 149 pages free (min watermark 90)")


@ps.scenario(kernel="v5.4", cpus=2, pages=2048, kswapd=True)
def boosted_atomic_allocation(k):
    """A zone of four pageblocks with 150 pages free at its end; kswapd asleep."""
    app = k.process("app")
    app.fault_in(2048 - 150)
    k.cpu(1).run(network_rx, name="rx")


def test_the_boost_fails_the_atomic_allocation():
    ex = boosted_atomic_allocation.explore(strategy="dpor", preemption_bound=2)
    run = ex.replay("check:atomic_allocation_succeeds")
    # The racy step: the atomic allocation starts with the zone boosted by a pageblock.
    atomic = [e["step"] for e in run.trace()
              if e["task"] == "rx" and e["kind"] == "enter" and e["func"] == "alloc_pages"][1]
    zone = run.state_at(atomic).zones()[0]
    assert (zone["watermark"], zone["watermark_boost"], zone["free_pages"]) == ((90, 112, 134), 512, 149)
    assert run.kernel.zones()[0]["watermark_boost"] == 0  # kswapd took it off after


def test_explored_both_ways():
    ex = boosted_atomic_allocation.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"check:atomic_allocation_succeeds": 246, "ok": 172}, ex
    ex = boosted_atomic_allocation.explore(fixes=FIXED, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": 679}, ex
    assert ex.found.checks == {"atomic_allocation_succeeds"}  # the check was evaluated
