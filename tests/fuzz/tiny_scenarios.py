"""Small scenarios for the fuzz suite: quick to run, explore and replay."""

import pagesim as ps

PAGES = 512


@ps.scenario(kernel="v4.8", cpus=2, pages=PAGES)
def tiny(k):
    """Two compaction contexts on one page of a process."""
    p = k.process("p")
    p.fault_in(4)
    pfn = p.pages()[1]
    k.cpu(0).run(k.compaction.page, pfn, name="A")
    k.cpu(1).run(k.compaction.page, pfn, name="B")


@ps.scenario(kernel="movable-v3", cpus=2, pages=PAGES)
def tiny_scripted(k):
    """A script: A isolates T and unlocks it, then B compacts it."""
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    t = pool.pages_of(h)[1]
    a = k.cpu(0).run(k.compaction.isolate, t, name="A")
    b = k.cpu(1).run(pool.free, h, name="C")
    return ps.script(a.until("unlock_page", t), b)
