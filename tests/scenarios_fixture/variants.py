"""A scenario with parameters: a kernel option (fixes) and an argument of its own."""

import pagesim as ps

FIX = {"c0547d0b6a4b": True, "4b5d1e47b694": True}


@ps.scenario(kernel="v6.1", cpus=2, pages=512, params={"fixes": [{}, FIX], "objects": [4, 5]})
def fullness_race(k, objects):
    """A migration isolates a page of a full zspage; the user frees one of its objects."""
    pool = k.zsmalloc()
    handles = [pool.malloc(3000) for _ in range(objects)]  # 4: one full zspage of 3 pages
    T = pool.pages_of(handles[0])[1]
    m = k.cpu(0).run(k.compaction.isolate, T, name="migrate")
    u = k.cpu(1).run(pool.free, handles[0], name="user")
    return ps.script(m, u)


@ps.scenario(kernel="v4.8", cpus=1, pages=512)
def plain(k):
    """No parameters."""
    k.cpu(0).run("unlock_page", k.alloc_pages(0))
