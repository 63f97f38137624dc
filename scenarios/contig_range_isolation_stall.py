"""alloc_contig_range waits for ever on the pages it isolated itself (Zi Yan, Oct 2020).

Report: "[PATCH v3 1/2] mm/compaction: count pages and stop correctly during page
isolation" (Zi Yan, 30 Oct 2020, linux-mm archive id 47090205384; merged as 38935861d85a
with 2/2, d20bdd571ee5, in 5.10): "In a system with 16GB memory and an 8GB CMA region
reserved by hugetlb_cma, if we first allocate 10GB THPs and mlock them ..., reserving 6 1GB
hugetlb pages ... will get stuck (looping in too_many_isolated function) until we kill
either task." Patch 2/2, d20bdd571ee5 ("mm/compaction: stop isolation if too many pages are
isolated and we have pages to migrate", archive id 47064223062): "In
isolate_migratepages_block, if we have too many isolated pages and nr_migratepages is not
zero, we should try to migrate what we have without wasting time on isolating."

alloc_contig_range isolates its range block by block (isolate_migratepages_range) and
migrates only once it has a batch. Since 6afcf8ef0ca0 (4.10) each page it isolates is
counted in NR_ISOLATED at once, so at the next pageblock `too_many_isolated()` can count
the caller's own pages, and the caller sleeps in `congestion_wait()` for pages only it
could put back: a hang (the kernel's loop ends only on a fatal signal). The report reached
it with THPs (32 of them are 16,384 pages); the model has no THPs and reaches it with
order-0 pages on a machine whose LRU holds little more than the range.

Machine: a process with 40 pages on the LRU. CMA allocation A migrates the first 20 (one
pageblock); B migrates the other 20, a range that ends 20 pages into the next pageblock.

- v4.8, v4.9: acct_isolated counts the batch only when the range scan is done: clean.
- v4.14 to v5.4: B throttles itself at its second pageblock: `hang` in every schedule.
- v5.10 (d20bdd571ee5): B stops isolating, `__alloc_contig_migrate_range` fails with
  -EINTR and puts its pages back: clean (the allocation fails, as 5.10's does).

Under bounded dpor (preemption bound 2, exhausted): v4.14 and v5.4 hang in all 9,431
executions; v5.10 is ok in all 14,958, v4.8 in all 34,561.
"""

import pagesim as ps

EINTR = 4


@ps.scenario(kernel="v5.4", cpus=2, pages=2048)
def contig_range_isolation_stall(k):
    """Two CMA allocations over a process's pages; B's range crosses a pageblock."""
    app = k.process("app")
    app.fault_in(40)
    first = min(app.pages())
    assert first % 512 == 0 and app.pages() == list(range(first, first + 40))
    a = k.cpu(0).run(k.compaction.contig, first, first + 20, name="cma_a")
    b = k.cpu(1).run(k.compaction.contig, first + 20, first + 532, name="cma_b")
    return ps.script(a, b)


def test_since_6afcf8ef0ca0_b_waits_for_the_pages_it_isolated_itself():
    for kernel in ("v4.14", "v5.4"):
        run = contig_range_isolation_stall.run(kernel=kernel)
        assert [o.key for o in run.outcomes] == ["hang"], (kernel, run.report())
        assert run.outcomes[0].message == "no task can run while 1 wait for what no task can change"
        # B sleeps in the throttle of its second pageblock, holding its own pages.
        assert "cma_b (cpu1) sleeps on congestion_wait" in run.report(), run.report()
        # B's own 20 pages, and those of A's new pages the allocator put in B's range.
        assert run.kernel.stats["nr_isolated_anon"] >= 20


def test_v48_counts_the_batch_at_the_end_of_the_range_and_is_clean():
    run = contig_range_isolation_stall.run(kernel="v4.8")
    assert run.ok, run.report()


def test_v510_stops_isolating_and_fails_the_allocation_instead():
    run = contig_range_isolation_stall.run(kernel="v5.10")
    assert run.ok, run.report()
    # The racy step was reached: B gave up at the throttle and put its batch back.
    lines = [line.strip() for line in run.diagram(depth=3).splitlines()]
    assert "putback_movable_pages" in lines, run.diagram(depth=3)
    assert "congestion_wait" not in lines
    assert run.kernel.stats["nr_isolated_anon"] == 0


def test_under_bounded_dpor():
    hang = contig_range_isolation_stall.explore(kernel="v4.14", strategy="dpor", preemption_bound=2)
    assert hang.exhausted and hang.outcomes == {"hang": hang.executions}, hang
    for kernel in ("v5.10", "v4.8"):
        ex = contig_range_isolation_stall.explore(kernel=kernel, strategy="dpor", preemption_bound=2)
        assert ex.exhausted and ex.outcomes == {"ok": ex.executions}, (kernel, ex)
        assert ex.proves_never("hang")
