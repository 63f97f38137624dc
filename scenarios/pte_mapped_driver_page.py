"""A driver page mapped into a process's page table is migrated as non-LRU (seed 003).

In the v6 review thread, the question was what happens when a driver's non-LRU movable page
is also mapped into user space by the driver's mmap. 4.8's non-LRU path of __unmap_and_move
does no try_to_unmap and no remove_migration_ptes: "migration" succeeds, the driver moves
its object to the new page, and the process still maps the old page, which its pte keeps
allocated but orphaned. 4.8 does not support PTE-mapped non-LRU pages; this scenario shows
what that means rather than a fix.
"""

import pagesim as ps


@ps.scenario(kernel="v4.8", cpus=1, pages=1024)
def pte_mapped_driver_page(k):
    """The test driver maps its page into a process; compaction migrates the page."""
    app = k.process("app")
    drv = k.test_driver()
    pfn = drv.alloc(1)
    drv.mmap(pfn, app)
    k.cpu(0).run(k.compaction.isolate, pfn, name="compaction")


def test_48_migrates_the_page_and_leaves_the_process_on_the_old_one():
    run = pte_mapped_driver_page.run()
    pfn = ps.test_driver_pages(pte_mapped_driver_page.initial_state())[0]
    new = ps.test_driver_pages(run.kernel)[0]
    assert new != pfn  # the driver's object moved
    assert run.kernel.process_pages(0) == [pfn]  # the pte did not
    problems = ps.test_driver_check(run.kernel)
    assert any("stale mapping" in p for p in problems), problems
    assert run.has("invariant:test_driver_check"), run.report()


def test_the_pte_keeps_the_old_page_allocated_not_freed():
    run = pte_mapped_driver_page.run()
    pfn = ps.test_driver_pages(pte_mapped_driver_page.initial_state())[0]
    page = run.kernel.page(pfn)
    assert page["refcount"] == 1 and page["mapcount"] == 1
    assert not page["buddy"]
