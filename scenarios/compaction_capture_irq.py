"""A block freed in a softirq is captured for a direct compaction that no longer looks for
it, and is lost (Hugh Dickins, Jun 2020; fixed by b9e20f0da1f5).

Report: b9e20f0da1f5 "mm, compaction: make capture control handling safe wrt interrupts"
(Vlastimil Babka, 5.8, `Cc: stable # 5.1+`; the 5.4.y backport is linux-mm archive id
47272195586), for Hugh Dickins's "mm, page_alloc: capture page in task context only"
(archive id 11901883527): "compact_zone_order() had been interrupted, and a page was being
freed in the return from interrupt ... would also need more care on return from
compact_zone(), in order not to risk leaking a page captured by interrupt just before
capture_control is reset." The fix: "prevents page leaking with WRITE_ONCE/READ_ONCE in
the proper order".

Since 5e1f0f098b46 (5.1) `compact_zone_order()` points `current->capture_control` at a
`capture_control` on its stack while it compacts, and `__free_one_page()` hands a block of
the compaction's order freed in that zone to it (`compaction_capture()`). An interrupt's
`__free_one_page()` sees the interrupted task's `current`. 5.4.0 ends with
`*capture = capc.page; current->capture_control = NULL;`: a softirq that frees and merges
a block of the order between the two stores it in `capc.page` after it was read, and the
block is on no free list and owned by nobody.

Pageblock 1 (pfns 512-1023) is free but for page X; the rest of memory is allocated
unmovable pages and free holes. A task on cpu0 allocates an order-9 unmovable page: the
fast path fails and direct compaction runs (nothing can be migrated); a softirq on cpu0
frees X, which merges pageblock 1 into an order-9 block.

- The scripted run, `v5.4`: the softirq comes right after the task read `capc.page`
  (empty): the block is captured and lost, `leak` for each of its 512 pages.
- `v5.10` (b9e20f0da1f5): the control is hidden first; the same script frees the block to
  the free list, and the allocation takes it.
- Found without the script: dpor (one CPU, no preemption bound) on `v5.4`, 2 of 8,528
  executions end in `leak`; `v5.10` exhausts the same 8,528 executions clean, as does
  `v4.19` (no capture, 8,521).

The same window has a sibling, Li Wang's WARNING (Apr 2019, on 5.1-rc5; Mel Gorman's
"mm, page_alloc: Always use a captured page regardless of compaction result", archive id
14450450401, posted against 5.1-rc5; 5.4.0 has it): `compaction_skipped_capture`. With only pageblock 1's free
pages, compaction is skipped (`compaction_suitable()`: too little free memory), but the
capture control is exposed while `compact_zone()` decides so; the softirq's block is
captured, and 5.1-rc's `__alloc_pages_direct_compact()` returned at once for a skipped
compaction: `WARN_ON_ONCE(page)` and the block lost. No preset has the capture without
the fix: the buggy side is `v5.4` with `always-use-a-captured-page` flipped off (`warn`,
then `leak`); `v5.4` uses the captured block and the allocation succeeds. Under dpor (no
bound): without the fix 11 executions, `warn` 3, `leak` 4; with it 13 ok and 2 `leak`,
which are b9e20f0da1f5's window above; `v5.10` has both fixes: 15, all ok.

Not modelled: Hugh's oops itself (a NULL `capc->cc` seen by an interrupt because the
compiler stored `.cc = &cc` after `current->capture_control`): the model has no compiler
reordering. b9e20f0da1f5's `barrier()` is for that.
"""

import pagesim as ps

X = 612  # the one page of pageblock 1 still allocated


@ps.scenario(kernel="v5.4", cpus=1, pages=4096, softirq=True)
def compaction_capture_irq(k):
    """An order-9 allocation compacts directly on cpu0; a softirq of cpu0 frees X."""
    while k.alloc_pages(0, "GFP_KERNEL|__GFP_MEMALLOC") is not None:
        pass
    for pfn in [*range(512, X), *range(X + 1, 1024), *range(1024, 4096, 2)]:
        k.free_pages(pfn)
    a = k.cpu(0).run("alloc_pages", 9, ps.GFP["GFP_KERNEL"], name="alloc")
    irq = k.cpu(0).softirq("free_pages", X, 0, name="irq_free")
    # The first compaction (async) returns; the task reads capc.page; then the softirq.
    return ps.script(a.until("compact_zone"), a.steps(1), irq, a)


def softirq_after_the_read(run) -> bool:
    """The racy step: the softirq's free came after the task's read of capc.page (its last
    access to its capture_control before it) and before it hid the control."""
    trace = run.trace()
    accesses = [(i, e) for i, e in enumerate(trace)
                if e["kind"] == "step" and str(e.get("obj", "")).startswith("capture_control")]
    irq = next(i for i, e in enumerate(trace) if e["task"] == "irq_free" and e["kind"] == "step")
    before = [e for i, e in accesses if i < irq and e["task"] == "alloc"]
    return bool(before) and before[-1]["op"] == "read"


def test_v54_loses_the_block_the_softirq_freed():
    run = compaction_capture_irq.run()
    keys = {o.key for o in run.outcomes}
    assert keys == {"leak"} and len(run.outcomes) == 512, run.report()[:2000]
    assert run.outcomes[0].message.startswith("page is neither free nor referenced (pfn 512)")
    assert all(s["reached"] for s in run.result.script_status)
    assert softirq_after_the_read(run)


def test_v510_hides_the_control_first_and_the_allocation_gets_the_block():
    run = compaction_capture_irq.run(kernel="v5.10")
    assert run.ok, run.report()
    assert not softirq_after_the_read(run)
    assert run.kernel.page(512)["owner"] == "kernel" and run.kernel.page(512)["refcount"] == 1


def test_exploration_finds_it_and_the_fix_removes_it():
    ex = compaction_capture_irq.explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 8526, "leak": 2}, ex
    fixed = compaction_capture_irq.explore(kernel="v5.10", strategy="dpor", preemption_bound=None)
    assert fixed.exhausted and fixed.outcomes == {"ok": 8528}, fixed
    assert fixed.proves_never("leak")


@ps.scenario(kernel="v5.4", fixes={"always-use-a-captured-page": False}, cpus=1, pages=4096,
             softirq=True)
def compaction_skipped_capture(k):
    """Only pageblock 1 (but X) is free: the order-9 allocation's compaction is skipped, and
    the softirq frees X while the capture control is exposed."""
    while k.alloc_pages(0, "GFP_KERNEL|__GFP_MEMALLOC") is not None:
        pass
    for pfn in [*range(512, X), *range(X + 1, 1024)]:
        k.free_pages(pfn)
    a = k.cpu(0).run("alloc_pages", 9, ps.GFP["GFP_KERNEL"], name="alloc")
    irq = k.cpu(0).softirq("free_pages", X, 0, name="irq_free")
    return ps.script(a.before("compact_zone"), irq, a)


def test_before_the_fix_a_skipped_compaction_warns_and_loses_the_block():
    run = compaction_skipped_capture.run()
    assert all(s["reached"] for s in run.result.script_status)
    keys = [o.key for o in run.outcomes]
    assert keys[0] == "warn:__alloc_pages_direct_compact" and set(keys[1:]) == {"leak"}, run.report()[:2000]
    assert len(keys) == 1 + 512


def test_since_the_fix_the_allocation_takes_the_captured_block():
    run = compaction_skipped_capture.run(fixes={"always-use-a-captured-page": True})
    assert run.ok, run.report()
    page = run.kernel.page(512)
    assert (page["owner"], page["refcount"]) == ("kernel", 1)
    assert run.kernel.stats["compact_stall"] == 1


def test_exploration_of_the_skipped_compaction():
    ex = compaction_skipped_capture.explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {
        "ok": 7, "leak": 4, "warn:__alloc_pages_direct_compact": 3}, ex
    fix = {"always-use-a-captured-page": True}
    ex = compaction_skipped_capture.explore(fixes=fix, strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 13, "leak": 2}, ex
    assert softirq_after_the_read(ex.replay("leak"))  # b9e20f0da1f5's window, not this one
    ex = compaction_skipped_capture.explore(kernel="v5.10", fixes=fix, strategy="dpor",
                                            preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 15}, ex
