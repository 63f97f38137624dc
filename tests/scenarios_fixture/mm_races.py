"""Small memory-management scenarios used by the scenario API and CLI tests."""

import pagesim as ps


@ps.scenario(kernel="v4.8", cpus=2, pages=1024)
def two_compactors(k):
    """Two compaction contexts aim at the same LRU page: only the first isolates it."""
    p = k.process("p")
    p.fault_in(64)
    target = p.pages()[10]
    a = k.cpu(0).run(k.compaction.page, target)
    b = k.cpu(1).run(k.compaction.page, target)
    return ps.script(a.until("isolate_migratepages_block"), b, a)


@ps.scenario(kernel="v4.8", cpus=1, pages=1024)
def unlock_unlocked_page(k):
    """A context unlocks a page nobody locked: VM_BUG_ON_PAGE in unlock_page."""
    pfn = k.alloc_pages(0)
    k.cpu(0).run("unlock_page", pfn)
