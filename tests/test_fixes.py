"""Every named fix a release brought after 4.4, pinned on every preset that has it.

For each built-in preset and each fix it has that 4.8 did not, a probe looks at the
behaviour the fix changes twice: on the preset as it is, and with the fix flipped off
(with the fixes that need it, which cannot stay on without it). The two observations must
be the fix's two known behaviours, on every preset: a fix whose flip changed nothing, or
changed something else, would let a scenario pass without testing what it names.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import pagesim as ps
import pagesim._core as core
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scenarios"))

import balloon_dequeue_poison
import balloon_enqueue_double_del
import balloon_shrinker_overdeflate
import compaction_capture_irq
import contig_range_isolation_stall
import nr_isolated_stall
import z3fold_failed_migration
import z3fold_free_handle_uaf
import z3fold_headless_reclaim_free
import z3fold_kref_rework_4_11
import z3fold_migrate_map_uaf
import z3fold_reclaim_free_race
import z3fold_reclaim_stale_handle
import zs_compact_lost_update
import zs_compact_stale_source
import zs_destroy_pool_race
import zs_lock_zspage_migration
import zs_migrate_empty_leak

Fixes = dict[str, bool]


def keys(run: Any) -> tuple[str, ...]:
    return tuple(o.key for o in run.outcomes)


def functions(run: Any, depth: int = 6) -> list[str]:
    """The model functions of a run's diagram, as lines (" (xN)" counts kept)."""
    return [line.strip() for line in run.diagram(depth=depth).splitlines()[2:]]


def gfp_nofs_order9_allocates(kernel: str, fixes: Fixes) -> bool:
    k = core.Kernel(preset=kernel, fixes=fixes, pages=4096)
    pid = k.process("frag")
    n = k.fault_in(pid, 4096)
    for v in range(1, n, 2):
        k.call("unmap", pid, v)
    g = core.GFP
    nofs = g["__GFP_DIRECT_RECLAIM"] | g["__GFP_KSWAPD_RECLAIM"] | g["__GFP_IO"] | g["__GFP_MOVABLE"]
    return k.call("alloc_pages", 9, nofs) >= 0


MOVABLE_MEMALLOC = "GFP_HIGHUSER_MOVABLE|__GFP_MEMALLOC"  # set-up allocations below the watermarks
KERNEL_MEMALLOC = "GFP_KERNEL|__GFP_MEMALLOC"


def all_but(kernel: str, fixes: Fixes, free: list[int], movable: bool = True) -> core.Kernel:
    """A 2048-page zone of movable (or unmovable) pageblocks, every page allocated with
    that migratetype but those of `free`."""
    mt, gfp = ("MOVABLE", MOVABLE_MEMALLOC) if movable else ("UNMOVABLE", KERNEL_MEMALLOC)
    k = core.Kernel(preset=kernel, fixes=fixes, zones=[("Normal", 2048, mt)])
    while k.alloc_pages(0, gfp) is not None:
        pass
    for pfn in free:
        k.free_pages(pfn)
    return k


def unmovable_from_free_pageblock_0(kernel: str, fixes: Fixes) -> int:
    """The page an unmovable allocation gets from a movable pageblock whose pages 1 to 511
    are free (blocks of orders 0 to 8): 4.8 splits the largest (256), 3bc48f96cf11 takes
    the pageblock's free pages onto the unmovable lists and splits the smallest (1)."""
    return all_but(kernel, fixes, list(range(1, 512))).alloc_pages(0, KERNEL_MEMALLOC)


def claims_pageblock_0(kernel: str, fixes: Fixes) -> str:
    """Pageblock 0's migratetype after an unmovable allocation stole from it, with 255 of
    its pages free and 257 allocated, none of them LRU or movable: 02aa0cdd7248 counts them
    as compatible with the unmovable allocation and claims the pageblock."""
    k = all_but(kernel, fixes, list(range(257, 512)))
    k.alloc_pages(0, KERNEL_MEMALLOC)
    return k.state.page(0)["migratetype"]


def unmovable_page_zone(kernel: str, fixes: Fixes) -> str:
    """The zone an unmovable allocation's page comes from when Normal (2048 pages, every
    other page of its first 1024 free, so no free pageblock) would have to fall back and
    DMA32 (1024 pages) has a free pageblock of movable pages."""
    k = core.Kernel(preset=kernel, fixes=fixes,
                    zones=[("DMA32", 1024, "MOVABLE"), ("Normal", 2048, "MOVABLE")])
    while k.alloc_pages(0, MOVABLE_MEMALLOC) is not None:
        pass
    for pfn in [*range(1024, 2048, 2), *range(512)]:
        k.free_pages(pfn)
    return "DMA32" if k.alloc_pages(0, "GFP_KERNEL") < 1024 else "Normal"


@ps.scenario(kernel="v6.1", cpus=2, pages=2048)
def order10_block_taken(k):
    """Pages 0-1023 free (an order-10 block), 1024-1535 free (order 9), the rest
    allocated. A's unmovable order-10 allocation passes the watermark check; B takes the
    order-10 block before A takes the zone lock."""
    while k.alloc_pages(0, MOVABLE_MEMALLOC) is not None:
        pass
    for pfn in range(1536):
        k.free_pages(pfn)
    g = core.GFP
    a = k.cpu(0).run("alloc_pages", 10, g["__GFP_KSWAPD_RECLAIM"], name="A")
    b = k.cpu(1).run("alloc_pages", 10, g["GFP_HIGHUSER_MOVABLE"], name="B")
    return ps.script(a.before("buffered_rmqueue"), b, a)


def order9_block_claimed(kernel: str, fixes: Fixes) -> str:
    """The migratetype of pageblock 1024-1535 after A's order-10 allocation failed."""
    run = order10_block_taken.run(kernel=kernel, fixes=fixes)
    assert run.ok and all(s["reached"] for s in run.result.script_status), run.report()
    return run.kernel.page(1024)["migratetype"]


ORDER9: dict[str, int] = {}


@ps.scenario(kernel="v5.4", cpus=2, pages=4096)
def order9_compaction_and_a_racing_allocation(k):
    """Pageblock 0 holds LRU pages (and a few free), the other pageblocks movable kernel
    pages with every other page free. A's unmovable order-9 allocation compacts (its
    sync-light attempt empties pageblock 0); B's order-9 allocation, which does not
    compact, comes once A's compaction returned."""
    while k.alloc_pages(0, MOVABLE_MEMALLOC) is not None:
        pass
    for pfn in range(512):
        k.free_pages(pfn)
    k.process("app").fault_in(512)  # into pageblock 0, up to the low watermark
    for pfn in range(512, 4096, 2):
        k.free_pages(pfn)
    g = core.GFP

    def alloc(name, gfp):
        ORDER9[name] = yield ps.call("alloc_pages", 9, gfp)

    a = k.cpu(0).run(alloc, "A", g["GFP_KERNEL"], name="A")
    b = k.cpu(1).run(alloc, "B", g["__GFP_KSWAPD_RECLAIM"] | g["__GFP_MOVABLE"], name="B")
    return ps.script(a.until("compact_zone"), a.until("compact_zone"), b, a)


def who_gets_pageblock_0(kernel: str, fixes: Fixes) -> str:
    ORDER9.clear()
    run = order9_compaction_and_a_racing_allocation.run(kernel=kernel, fixes=fixes)
    assert run.ok and all(s["reached"] for s in run.result.script_status), run.report()
    return next(name for name, pfn in ORDER9.items() if pfn == 0)


def movable_from_unmovable(kernel: str, fixes: Fixes) -> int:
    """A movable allocation from unmovable pageblocks whose free pages are pfn 0 and the
    order-2 block at 4 (too small to steal the pageblock): the largest, or since
    7a8f58f39188 the smallest."""
    return all_but(kernel, fixes, [0, 4, 5, 6, 7], movable=False).alloc_pages(0, MOVABLE_MEMALLOC)


def order2_compaction(kernel: str, fixes: Fixes, gfp: str = "GFP_KERNEL") -> dict[str, int]:
    """An order-2 allocation on a 2048-page machine whose free memory is order-0 holes
    between a process's LRU pages (all in movable pageblocks): the compaction stalls and
    failures, and the pages compaction migrated."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=2048)
    pid = k.process("frag")
    n = k.fault_in(pid, 2048)
    for v in range(1, n, 2):
        k.call("unmap", pid, v)
    for order in range(10, 0, -1):  # what the process left of higher orders goes
        while k.state.free_blocks()[order]:
            assert k.alloc_pages(order, MOVABLE_MEMALLOC) is not None
    assert k.alloc_pages(2, gfp) is not None
    return {s: k.state.stats[s] for s in ("compact_stall", "compact_fail", "pgmigrate_success")}


SKIPPED, COMPLETE, SUCCESS = 1, 5, 8  # enum compact_result, as try_to_compact_pages returns it


def near_watermarks(kernel: str, fixes: Fixes, free: int, hole_order: int = 0,
                    block3: bool = False) -> core.Kernel:
    """A 2048-page machine (watermarks min 90, low 112) whose `free` free pages are holes of
    2**hole_order pages between kernel pages, and with `block3` also one order-3 block."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=2048)
    atomic = core.GFP["GFP_ATOMIC"]
    held = set()
    while (p := k.call("alloc_pages", 0, atomic)) >= 0:
        held.add(p)
    for b in sorted({p >> hole_order for p in held})[::2]:
        block = [(b << hole_order) + i for i in range(1 << hole_order)]
        if all(q in held for q in block):
            for q in block:
                k.call("free_pages", q, 0)
                held.discard(q)
    for order in range(10, hole_order, -1):  # what is left of the first blocks goes
        while k.state.free_blocks()[order]:
            assert k.call("alloc_pages", order, atomic) >= 0
    if block3:
        base = next(b for b in range(0, 2048, 8) if all(b + i in held for i in range(1, 8, 2)))
        for i in range(1, 8, 2):
            k.call("free_pages", base + i, 0)
    while k.state.stats["nr_free_pages"] > free:
        assert k.call("alloc_pages", 0, atomic) >= 0
    return k


def order3_compaction(kernel: str, fixes: Fixes, free: int, **kw: Any) -> tuple[int, int]:
    """try_to_compact_pages(3)'s result, and the zone's compact_order_failed after it."""
    k = near_watermarks(kernel, fixes, free, **kw)
    return k.call("try_to_compact_pages", 3), k.state.zones()[0]["compact_order_failed"]


@ps.scenario(kernel="v5.10", cpus=2, pages=1024)
def freed_under_migration(k):
    app = k.process("app")
    app.fault_in(4)
    m = k.cpu(0).run(k.compaction.isolate, app.pages()[1], name="migrate")
    u = k.cpu(1).run(app.unmap, 1, name="munmap")
    # The process unmaps the page once the scanner isolated it: only the isolation's
    # reference is left when migrate_pages takes it.
    return ps.script(m.until("isolate_migratepages_block"), u, m)


def under_unmap_and_move(kernel: str, fixes: Fixes) -> tuple[str, ...]:
    run = freed_under_migration.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return unmap_steps(run)


def unmap_steps(run: Any) -> tuple[str, ...]:
    """What unmap_and_move (migrate_folio_unmap since 2ef7dbb26990) calls for the page."""
    lines = run.diagram(depth=7, objects=[]).splitlines()  # the functions only
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("---")) + 1:]
    at = next(i for i, line in enumerate(lines)
              if line.strip() in ("unmap_and_move", "migrate_folio_unmap"))
    indent = len(lines[at]) - len(lines[at].lstrip()) + 2
    return tuple(line.strip() for line in lines[at + 1:]
                 if len(line) - len(line.lstrip()) == indent)


def lru_isolation_steps(kernel: str, fixes: Fixes) -> list[str]:
    """What isolate_migratepages_block does to the LRU page of freed_under_migration, in
    order, from its lockless PG_lru test to the page's list_del: "get" (its reference),
    "mapping" (the pinned-page check's read of page->mapping), "test <bit>", "clear lru"
    and "lock" (the LRU lock)."""
    run = freed_under_migration.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    steps = []
    for e in run.trace():
        if e.get("task") != "migrate" or e.get("kind") != "step":
            continue
        if e["func"] == "get_page_unless_zero":
            steps.append("get")
        elif e["func"] == "isolate_migratepages_block":
            op, obj = e["op"], str(e.get("obj", ""))
            if op == "spin_lock" and "lru_lock" in obj:
                steps.append("lock")
            elif op == "read" and obj.startswith("page"):
                steps.append("mapping")
            elif op in ("bit_test", "bit_clear"):
                steps.append(f'{op.removeprefix("bit_")} {e["bit"]}')
            elif op == "list_del":
                break
    return steps[steps.index("test lru") + 1:]


def precedes(steps: list[str], first: str, then: str) -> bool:
    return steps.index(first) < steps.index(then)


@ps.scenario(kernel="v6.1", cpus=2, pages=512)
def zs_free_while_isolated(k):
    pool = k.zsmalloc()
    h = pool.malloc(3000)
    T = pool.pages_of(h)[1]

    def pool_user():
        yield ps.call("zs_free", pool.id, h)

    m = k.cpu(0).run(k.compaction.isolate, T, name="migrate")
    u = k.cpu(1).run(pool_user, name="pool_user")
    # The user frees the zspage's only object once T is isolated and unlocked again.
    return ps.script(m.until("isolate_movable_page", T), u, m)


def zs_isolated_run(kernel: str, fixes: Fixes) -> list[str]:
    run = zs_free_while_isolated.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return functions(run, 4)


def takes_pool_migrate_lock(kernel: str, fixes: Fixes) -> bool:
    """Whether zs_free takes pool->migrate_lock (pool->lock since c0547d0b6a4b), not a pin."""
    run = zs_free_while_isolated.run(kernel=kernel, fixes=fixes)
    return any(str(e.get("obj", "")).startswith(("pool->migrate_lock", "pool->lock"))
               for e in run.trace())


@ps.scenario(kernel="v4.14", cpus=2, pages=512)
def two_lockers(k):
    app = k.process("app")
    app.fault_in(1)
    P = app.pages()[0]

    def holder():
        yield ps.call("lock_page", P)
        yield ps.call("unlock_page", P)

    a = k.cpu(0).run(holder, name="holder")
    b = k.cpu(1).run("lock_page", P, name="waiter")
    # The waiter finds the page locked and sleeps; the holder unlocks it.
    return ps.script(a.until("lock_page", P), b, a)


def waiter_sets_pg_waiters(kernel: str, fixes: Fixes) -> bool:
    run = two_lockers.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return any(e.get("task") == "waiter" and e.get("op") == "bit_set" for e in run.trace())


def huge_page_flag(kernel: str, fixes: Fixes) -> bool:
    """Whether a huge object's page carries the flag (PG_owner_priv_1) itself."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    pool = k.call("zs_create_pool")
    h = k.call("zs_malloc", pool, 4000)
    return "owner_priv_1" in k.state.page(k.call("zs_page_of", pool, h, 0))["flags"]


def isolation_stores_page_flags(kernel: str, fixes: Fixes) -> list[str]:
    """The last two operations of isolate_movable_page on the page: its PG_isolated update."""
    run = zs_free_while_isolated.run(kernel=kernel, fixes=fixes)
    ops = [e["op"] for e in run.trace() if e.get("func") == "isolate_movable_page" and "op" in e]
    return ops[-2:]


COMPACTED: list[int] = []


@ps.scenario(kernel="v5.15", cpus=1, pages=1024)
def compact_twice(k):
    pool = k.zsmalloc()
    y, _ = zs_compact_lost_update.fill(pool, 1000)  # one full zspage, one with one object
    for h in y[1:]:
        pool.free(h)

    def compactor():
        for _ in range(2):
            COMPACTED.append((yield ps.call("zs_compact", pool.id)))

    return ps.script(k.cpu(0).run(compactor, name="compactor"))


def compacted_twice(kernel: str, fixes: Fixes) -> list[int]:
    """What two zs_compact calls in a row return."""
    COMPACTED.clear()
    run = compact_twice.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return list(COMPACTED)


@ps.scenario(kernel="v4.14", cpus=1, pages=512)
def inflate_deflate(k):
    b = k.balloon()
    b.fill(1)
    return ps.script(k.cpu(0).run(b.fill, 1, name="inflate"), k.cpu(0).run(b.leak, 2, name="deflate"))


def balloon_ops(kernel: str, fixes: Fixes) -> list[tuple[str, str]]:
    """The balloon's list and lock steps of one inflation and one deflation, in order."""
    run = inflate_deflate.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    objs = ("list pages", "virtio_balloon balloon_lock", "balloon pages_lock")
    return [(e["func"], e["op"]) for e in run.trace()
            if e.get("task") in ("inflate", "deflate")
            and (e.get("obj") in objs or e.get("op") == "test_and_set")]


def allocates_before_balloon_lock(kernel: str, fixes: Fixes) -> bool:
    ops = balloon_ops(kernel, fixes)
    return ops.index(("fill_balloon", "list_add")) < ops.index(("fill_balloon", "lock")) \
        if ("fill_balloon", "list_add") in ops else False


def enqueue_takes_pages_lock_first(kernel: str, fixes: Fixes) -> bool:
    """The inflation takes pages_lock before the new page's lock (trylock_page)."""
    ops = [op for _, op in balloon_ops(kernel, fixes)]
    return ops.index("spin_lock") < ops.index("test_and_set")


def releases_under_balloon_lock(kernel: str, fixes: Fixes) -> bool:
    """The deflation frees its pages before it drops balloon_lock."""
    trace = [e for e in trace_of(inflate_deflate, kernel, fixes) if e.get("task") == "deflate"]
    last_free = max(i for i, e in enumerate(trace) if e["kind"] == "enter" and e["func"] == "put_page")
    unlock = max(i for i, e in enumerate(trace) if e["kind"] == "step"
                 and e.get("obj") == "virtio_balloon balloon_lock" and e["op"] == "unlock")
    return last_free < unlock


@ps.scenario(kernel="v4.7", cpus=1, pages=512)
def leak_more_than_inflated(k):
    b = k.balloon()
    b.fill(2)
    k.cpu(0).run(b.leak, 3, name="deflate")  # what the OOM notifier's fixed count does


@ps.scenario(kernel="v4.7", cpus=1, pages=512)
def zram_write(k):
    k.call("zram_create", 2)
    k.cpu(0).run("zram_write", 0, 1000, 7, name="writer")


def write_takes_the_stream_mutex(kernel: str, fixes: Fixes) -> bool:
    return any(e["kind"] == "step" and e.get("obj") == "zcomp strm_lock"
               for e in trace_of(zram_write, kernel, fixes))


def first_zsmalloc_migratetype(k: core.Kernel) -> str:
    """The pageblock type of the first page zsmalloc allocated (a fresh zone is all MOVABLE
    pageblocks: an unmovable request steals one)."""
    return next(pg["migratetype"] for p in range(k.state.nr_pages)
                if (pg := k.state.page(p))["owner"] == "zsmalloc")


def zram_page_migratetype(kernel: str, fixes: Fixes) -> str:
    k = core.Kernel(preset=kernel, fixes=fixes, pages=2048)
    k.call("zram_create", 2)
    k.call("zram_write", 0, 1000, 7)
    return first_zsmalloc_migratetype(k)


def zs_malloc_migratetype(kernel: str, fixes: Fixes) -> str:
    """zs_malloc's default gfp is movable; before zs-malloc-gfp the pool's flags were not."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=2048)
    k.call("zs_malloc", k.call("zs_create_pool"), 100)
    return first_zsmalloc_migratetype(k)


@ps.scenario(kernel="v4.7", cpus=1, pages=512, kcompactd=True)
def with_kcompactd(k):
    k.cpu(0).run("alloc_pages", 0, core.GFP["GFP_KERNEL"], name="t")


def kcompactd_starts(kernel: str, fixes: Fixes) -> bool:
    try:
        return with_kcompactd.run(kernel=kernel, fixes=fixes).ok
    except ps.UsageError as e:
        assert "has no kcompactd (698b1b30642f, 4.6)" in str(e)
        return False


@ps.scenario(kernel="v4.7", cpus=1, pages=2048)
def compaction_near_the_min_watermark(k):
    """Every other page of a process's movable memory free, then all but 92 free pages
    taken (movable, so that the pageblocks stay migration targets)."""
    p = k.process("p")
    n = p.fault_in(2048)
    for v in range(1, n, 2):
        p.unmap(v)
    while k.state.stats["nr_free_pages"] > 92:
        k.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    k.cpu(0).run(k.compaction.memory, name="compact")


def free_pages_tried(kernel: str, fixes: Fixes) -> int:
    """How many free pages the free scanner asked __isolate_free_page for: at 92 free pages
    the watermark refuses each, and since the fix a block is left at the first refusal."""
    return sum(e["kind"] == "enter" and e["func"] == "__isolate_free_page"
               for e in trace_of(compaction_near_the_min_watermark, kernel, fixes))


# fix: (probe(kernel, fixes), what it sees with the fix, what it sees without)
def trace_of(scenario: Any, kernel: str, fixes: Fixes) -> list[dict[str, Any]]:
    run = scenario.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return run.trace()


def takes_pool_lock(kernel: str, fixes: Fixes, func: str | None = None) -> bool:
    """Whether `func` (any function if None) takes pool->lock in zs_free_while_isolated."""
    return any(e.get("op") == "spin_lock" and str(e.get("obj", "")).startswith("pool->lock")
               and func in (None, e.get("func"))
               for e in trace_of(zs_free_while_isolated, kernel, fixes))


@ps.scenario(kernel="v6.1", cpus=2, pages=512)
def two_compactions(k):
    """Class 1024: two zspages of one object each, so compaction can free one; a second
    compaction starts while the first is in __zs_compact."""
    pool = k.zsmalloc()
    h = [pool.malloc(1000) for _ in range(8)]
    for x in h[1:4] + h[5:8]:
        pool.free(x)

    def compactor():
        COMPACTED.append((yield ps.call("zs_compact", pool.id)))

    a = k.cpu(0).run(compactor, name="first")
    b = k.cpu(1).run(compactor, name="second")
    return ps.script(a.before("__zs_compact"), b, a)


def compactions_returned(kernel: str, fixes: Fixes) -> list[int]:
    """What two overlapping zs_compacts return, in the order they return."""
    COMPACTED.clear()
    trace_of(two_compactions, kernel, fixes)
    return list(COMPACTED)


def class_of(kernel: str, fixes: Fixes, size: int) -> dict[str, Any]:
    """The view of the class that one object of `size` bytes lands in."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    pool = k.call("zs_create_pool")
    k.call("zs_malloc", pool, size)
    (cls,) = core.zs_stats(k.state, pool)["classes"]
    return cls


def class_geometry(kernel: str, fixes: Fixes, size: int) -> tuple[int, int, int]:
    """(class size, pages per zspage, objects per zspage) of the class `size` bytes use."""
    cls = class_of(kernel, fixes, size)
    return cls["size"], cls["pages_per_zspage"], cls["objs_per_zspage"]


# Found by a random search of frees and a compaction in class 208: where insert_zspage
# puts a zspage in its list decides which zspage the next object goes to. Each free
# frees hs.pop(i % len(hs)).
INSERT_ORDER_FREES = [506, 86, 686, 618, 682, 567, 408, 360, 612, 484, 913, 503, 322, 183, 831,
                      639, 787, 401, 170, 227, 147, 357, 546, 132, 639, 855, 336, 147, 679, 192,
                      96, 722, 250, 456, 346, 489, 535, 201, 195]


def next_object_page(kernel: str, fixes: Fixes) -> int:
    """The first page of the zspage the next object goes to, after INSERT_ORDER_FREES."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=1024)
    pool = k.call("zs_create_pool")
    hs = [k.call("zs_malloc", pool, 200) for _ in range(120)]
    for i in INSERT_ORDER_FREES:
        k.call("zs_free", pool, hs.pop(i % len(hs)))
    k.call("zs_compact", pool)
    return core.zs_pages_of(k.state, pool, k.call("zs_malloc", pool, 200))[0]


@ps.scenario(kernel="v6.6", cpus=1, pages=512)
def compact_class_1000(k):
    pool = k.zsmalloc()
    hs = [pool.malloc(1000) for _ in range(12)]
    for h in (hs[0], hs[1], hs[4], hs[8]):  # zspages of 2, 3 and 3 objects of 4
        pool.free(h)
    return ps.script(k.cpu(0).run(pool.compact, name="compactor"))


def pool_lock_drops(kernel: str, fixes: Fixes) -> int:
    """pool->lock unlocks of a compaction: one per class, and the drops in class 1000."""
    return sum(e.get("op") == "spin_unlock" and str(e.get("obj", "")).startswith("pool->lock")
               for e in trace_of(compact_class_1000, kernel, fixes))


def stale_source_outcomes(kernel: str, fixes: Fixes) -> set[str]:
    ex = zs_compact_stale_source.zs_compact_stale_source.explore(
        kernel=kernel, fixes={"f7ddb6125683": True, **fixes}, strategy="dpor", preemption_bound=1)
    assert ex.exhausted, ex
    return set(ex.outcomes)


@ps.scenario(kernel="v6.6", cpus=1, pages=512)
def two_driver_pages(k):
    P = k.test_driver().alloc(2)
    return ps.script(k.cpu(0).run(k.compaction.range, P, P + 2, 2, name="migrate"))


def new_pages_before_first_move(kernel: str, fixes: Fixes) -> int:
    """New pages the migration allocates before the driver moves the first page."""
    n = 0
    for e in trace_of(two_driver_pages, kernel, fixes):
        if e.get("func") == "test_driver_migratepage":
            return n
        n += e.get("func") == "buffered_rmqueue" and e.get("op") == "spin_lock"
    raise AssertionError("no page was migrated")


@ps.scenario(kernel="v6.6", cpus=1, pages=512)
def failing_driver_page(k):
    drv = k.test_driver()
    P = drv.alloc(1)
    drv.set(migrate_error=16)  # migratepage returns -EBUSY
    return ps.script(k.cpu(0).run(k.compaction.page, P, name="migrate"))


def put_back_inside_migrate_pages(kernel: str, fixes: Fixes) -> bool:
    """Whether the driver gets its page back before migrate_pages returns."""
    inside = False
    for e in trace_of(failing_driver_page, kernel, fixes):
        if e.get("func") == "migrate_pages":
            inside = e["kind"] == "enter"
        if e.get("func") == "test_driver_putback_page" and e["kind"] == "enter":
            return inside
    raise AssertionError("the page was not put back")


DRIVER_PAGE: list[int] = []


@ps.scenario(kernel="v6.6", cpus=2, pages=512)
def sync_light_on_a_locked_page(k):
    drv = k.test_driver()
    P = drv.alloc(1)
    DRIVER_PAGE[:] = [P]

    def holder():
        yield ps.call("lock_page", P)
        yield ps.call("unlock_page", P)

    h = k.cpu(0).run(holder, name="holder")
    m = k.cpu(1).run(k.compaction.range, P, P + 1, 1, name="migrate")  # MIGRATE_SYNC_LIGHT
    # The holder locks the page once the migration isolated it, and unlocks it once the
    # migration gave up or sleeps on the lock.
    return ps.script(m.before("migrate_pages"), h.before("unlock_page"), m, h)


def migrated_after_the_lock(kernel: str, fixes: Fixes) -> bool:
    """Whether SYNC_LIGHT migration waits for a driver page's lock and then migrates it."""
    run = sync_light_on_a_locked_page.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return list(core.test_driver_pages(run.kernel)) != DRIVER_PAGE


def one_compaction_throttling_another(k, lru_pages: int):
    app = k.process("app")
    app.fault_in(lru_pages)
    pages = app.pages()
    # The first isolates COMPACT_CLUSTER_MAX (32) LRU pages and stops before migrating them.
    a = k.cpu(0).run(k.compaction.range, pages[0], pages[0] + 64, 2, name="first")
    mid = pages[lru_pages // 2]
    b = k.cpu(1).run(k.compaction.range, mid, mid + 64, 2, name="second")
    return ps.script(a.before("migrate_pages"), b, a)


@ps.scenario(kernel="v6.6", cpus=2, pages=1024)
def second_compaction_throttled(k):
    return one_compaction_throttling_another(k, 200)


@ps.scenario(kernel="v6.6", cpus=2, pages=1024)
def second_compaction_throttled_by_32_of_40(k):
    return one_compaction_throttling_another(k, 40)


def throttle_waits(scenario: Any, kernel: str, fixes: Fixes) -> list[tuple[str, int]]:
    """Where the second compaction waited for the isolated pages, and when it looked again."""
    return [(e["func"], e["t"]) for e in trace_of(scenario, kernel, fixes)
            if e.get("task") == "second" and e["kind"] == "exit"
            and e["func"] in ("congestion_wait", "reclaim_throttle")]


def second_compaction_waits(kernel: str, fixes: Fixes) -> bool:
    """Whether 32 isolated pages of 200 on the LRU throttle a GFP_KERNEL compaction."""
    return bool(throttle_waits(second_compaction_throttled, kernel, fixes))


def zram_with_backing_dev(kernel: str, fixes: Fixes) -> core.Kernel | None:
    """A zram device of 2 slots over a backing device of 4 blocks; None if the kernel has no
    backing_dev attribute."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    try:
        k.call("zram_backing_dev", 4)
    except core.UsageError:
        return None
    k.call("zram_create", 2)
    return k


def incompressible_page_block(kernel: str, fixes: Fixes) -> int | None:
    """The backing device's block an incompressible page ends on: zram_bvec_write writes it
    back (4.14), or writeback_store does (5.0)."""
    k = zram_with_backing_dev(kernel, fixes)
    if k is None:
        return None
    if k.call("zram_write", 0, 4000, 7) == 0:
        assert k.call("zram_writeback", 0) == 1
    return k.call("zram_wb_block", 0)


def incompressible_write_returns(kernel: str, fixes: Fixes) -> int:
    k = zram_with_backing_dev(kernel, fixes)
    return k.call("zram_write", 0, 4000, 7)


def zram_with_slots_to_write_back(kernel: str, fixes: Fixes) -> core.Kernel:
    """4 slots over 16 blocks: slots 1 and 3 huge (stored uncompressed), none idle."""
    k = core.Kernel(preset=kernel, fixes=fixes, pages=1024)
    k.call("zram_backing_dev", 16)
    k.call("zram_create", 4)
    for i in range(4):
        k.call("zram_write", i, 4096 if i % 2 else 100, 10 + i)
    return k


def blocks_counted(kernel: str, fixes: Fixes) -> int:
    """bd_stat's bd_count after a huge writeback and a read of a written-back slot."""
    k = zram_with_slots_to_write_back(kernel, fixes)
    assert k.call("zram_writeback", 0) == 2
    assert k.call("zram_read", 1) == 11
    stats = core.zram_stats(k.state)
    return stats["bd_count"] + stats["bd_reads"] + stats["bd_writes"]


def idle_writeback_of_no_idle_slot(kernel: str, fixes: Fixes) -> int:
    """The slots an "idle" writeback writes back when no slot is idle."""
    return zram_with_slots_to_write_back(kernel, fixes).call("zram_writeback", 1)


def writebacks_within_a_budget_of_one(kernel: str, fixes: Fixes) -> int:
    """A budget of one page (enabled where there is a switch); then two huge writebacks."""
    k = zram_with_slots_to_write_back(kernel, fixes)
    for entry, arg in (("zram_writeback_limit", 1), ("zram_writeback_limit_enable", 1)):
        try:
            k.call(entry, arg)
        except core.UsageError:
            pass  # no limit before bb416d18b850, no switch before 1d69a3f8ae77
    return k.call("zram_writeback", 0) + k.call("zram_writeback", 0)


@ps.scenario(kernel="v5.4", cpus=2, pages=512)
def notify_on_a_locked_slot(k):
    k.call("zram_create", 2)
    k.call("zram_write", 0, 1000, 7)
    reader = k.cpu(0).run("zram_read", 0, name="reader")
    swap_free = k.cpu(1).run("zram_slot_free_notify", 0, name="swap_free")
    # The reader holds slot 0's lock (its first step) when swap frees the slot.
    return ps.script(reader.steps(1), swap_free, reader)


def missed_frees(kernel: str, fixes: Fixes) -> tuple[int, int]:
    """(miss_free, the slot's handle still there) after swap freed a locked slot."""
    run = notify_on_a_locked_slot.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    stats = core.zram_stats(run.kernel)
    return stats["miss_free"], int(stats["handles"][0] != 0)


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def one_zram_read(k):
    k.call("zram_create", 1)
    k.call("zram_write", 0, 1000, 7)
    k.cpu(0).run("zram_read", 0, name="reader")


def slot_locks_of_a_read(kernel: str, fixes: Fixes) -> int:
    """How often a read takes its slot's bit spinlock: for the read, and since 5.0 again for
    zram_accessed."""
    steps = one_zram_read.run(kernel=kernel, fixes=fixes).trace()
    return sum(e["kind"] == "step" and e.get("obj") == "zram slot 0" and e["op"] == "test_and_set"
               for e in steps)


def stored_size_of_3100_bytes(kernel: str, fixes: Fixes) -> int:
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    k.call("zram_create", 2)
    k.call("zram_write", 0, 3100, 7)
    return core.zram_stats(k.state)["compr_data_size"]


def read_completion_frees_the_slot(kernel: str, fixes: Fixes) -> bool:
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    k.call("zram_create", 2)
    k.call("zram_write", 0, 1000, 7)
    k.call("end_swap_bio_read", 0)
    return k.call("zram_handle", 0) == 0


# ---- z3fold ----

Z3FOLD_PAGES: list[int] = []


def leaks(scenario: Any, kernel: str, fixes: Fixes) -> bool:
    # Without CONFIG_DEBUG_VM: from 6.3 migrate_pages_sync retries the failed page, with
    # PAGE_CLAIMED clear, which z3fold_page_migrate's VM_BUG_ON_PAGE reports
    # (tests/test_z3fold.py).
    return "leak" in keys(scenario.run(kernel=kernel, fixes=fixes, debug_vm=False))


G = core.GFP


@ps.scenario(kernel="v6.1", cpus=2, pages=512,
             params={"gfp": [G["GFP_KERNEL"], G["__GFP_KSWAPD_RECLAIM"], G["__GFP_DIRECT_RECLAIM"]]})
def z3fold_alloc_after_release(k, gfp):
    """a's page P went stale (its last object freed); before the release worker frees it,
    a z3fold_alloc (by default one that may sleep) allocates."""
    pool = k.z3fold()
    a = pool.alloc(1000)
    Z3FOLD_PAGES[:] = [pool.page_of(a)]
    pool.free(a)

    def sleeper():
        h = yield ps.call("z3fold_alloc_gfp", pool.id, 1000, gfp)
        Z3FOLD_PAGES.append((yield ps.call("z3fold_page_of", pool.id, h)))

    return ps.script(k.cpu(1).run(sleeper, name="sleeper"))


def reuses_the_stale_page(kernel: str, fixes: Fixes) -> bool:
    run = z3fold_alloc_after_release.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    P, got = Z3FOLD_PAGES
    return got == P


def highmem_alloc_refused(kernel: str, fixes: Fixes) -> bool:
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    pool = k.call("z3fold_create_pool")
    g = core.GFP
    return k.call("z3fold_alloc_gfp", pool, 100, g["GFP_KERNEL"] | g["__GFP_HIGHMEM"]) < 0


@ps.scenario(kernel="v6.1", cpus=1, pages=512)
def z3fold_free_of_a_full_page(k):
    """Three objects fill P (first, last, middle: off every unbuddied list, cpu -1)."""
    pool = k.z3fold()
    hs = [pool.alloc(1000) for _ in range(3)]
    return ps.script(k.cpu(0).run(pool.free, hs[0], name="user"))


def free_takes_pool_lock(kernel: str, fixes: Fixes) -> bool:
    return any(e.get("op") == "spin_lock" and str(e.get("obj", "")).startswith("pool->lock")
               and e.get("func") == "z3fold_free"
               for e in trace_of(z3fold_free_of_a_full_page, kernel, fixes))


def page_on_pool_lru(kernel: str, fixes: Fixes) -> bool:
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    pool = k.call("z3fold_create_pool")
    h = k.call("z3fold_alloc", pool, 100)
    return k.state.page(k.call("z3fold_page_of", pool, h))["list"] == "z3fold pool->lru"


@ps.scenario(kernel="v5.15", cpus=1, pages=512)
def z3fold_free_of_the_last_object(k):
    pool = k.z3fold()
    k.cpu(0).run(pool.free, pool.alloc(100), name="free")


def frees_the_slots(kernel: str, fixes: Fixes) -> str:
    """The function that frees the page's slots when its one object goes."""
    return [e["func"] for e in trace_of(z3fold_free_of_the_last_object, kernel, fixes)
            if e["kind"] == "step" and e.get("obj") == "z3fold slots 1" and e["op"] == "write"][-1]


@ps.scenario(kernel="v5.15", cpus=1, pages=512)
def z3fold_page_compacted(k):
    pool = k.z3fold()
    Z3FOLD_PAGES[:] = [pool.page_of(pool.alloc(100))]
    k.cpu(0).run(k.compaction.page, Z3FOLD_PAGES[0], name="compact")


def deflates_on_oom_through(kernel: str, fixes: Fixes) -> str:
    """The entry point by which the balloon deflates under memory pressure: the OOM
    notifier or the shrinker (the other is refused)."""
    k = core.Kernel(preset=kernel, fixes=fixes)
    k.call("balloon_init")
    k.call("balloon_fill", 8)
    ways = []
    for entry, args in (("balloon_oom_notify", ()), ("balloon_shrink", (4,))):
        try:
            k.call(entry, *args)
            ways.append(entry)
        except core.UsageError:
            pass
    return "/".join(ways)


def isolation_claims(kernel: str, fixes: Fixes) -> bool:
    """Whether z3fold_page_isolate sets PAGE_CLAIMED (test_and_set_bit under the page lock)."""
    return any(e["kind"] == "step" and e["func"] == "z3fold_page_isolate" and e["op"] == "test_and_set"
               for e in trace_of(z3fold_page_compacted, kernel, fixes))



# ---- z3fold from 4.19 to 5.4 ----


def z3fold_pool(kernel: str, fixes: Fixes) -> tuple[core.Kernel, int]:
    k = core.Kernel(preset=kernel, fixes=fixes, pages=512)
    return k, k.call("z3fold_create_pool")


def steps(run: Any, func: str) -> list[dict[str, Any]]:
    return [e for e in run.trace() if e["kind"] == "step" and e["func"] == func]


def called_in(run: Any, outer: str, inner: str) -> bool:
    """Whether `inner` was entered while `outer` ran (in any task)."""
    depth = 0
    for e in run.trace():
        if e.get("func") == outer and e["kind"] in ("enter", "exit"):
            depth += 1 if e["kind"] == "enter" else -1
        elif depth and e["kind"] == "enter" and e["func"] == inner:
            return True
    return False


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_headless_free(k):
    pool = k.z3fold()
    k.cpu(0).run(pool.free, pool.alloc(4000), name="free")


def headless_free_claims(kernel: str, fixes: Fixes) -> bool:
    """Whether z3fold_free claims a headless page (test_and_set_bit(PAGE_CLAIMED))."""
    return any(e["op"] == "test_and_set" for e in steps(z3fold_headless_free.run(kernel=kernel, fixes=fixes), "z3fold_free"))


def free_claims_first(kernel: str, fixes: Fixes) -> bool:
    """Whether z3fold_free's first look at the page's bits is its claim (test_and_set_bit
    of PAGE_CLAIMED), not the PAGE_HEADLESS test."""
    run = z3fold_free_of_the_last_object.run(kernel=kernel, fixes=fixes)
    return next(e["op"] for e in steps(run, "z3fold_free") if e.get("bit")) == "test_and_set"


def handle_is_an_address(kernel: str, fixes: Fixes) -> bool:
    k, pool = z3fold_pool(kernel, fixes)
    return k.call("z3fold_alloc", pool, 100) >= 2**40


def page_is_movable(kernel: str, fixes: Fixes) -> bool:
    k, pool = z3fold_pool(kernel, fixes)
    h = k.call("z3fold_alloc", pool, 100)
    return k.state.page(k.call("z3fold_page_of", pool, h))["movable"]


def alloc_outcome(kernel: str, fixes: Fixes) -> str:
    """z3fold_alloc of a new page: "ok", or the report that stopped it."""
    k, pool = z3fold_pool(kernel, fixes)
    try:
        k.call("z3fold_alloc", pool, 100)
    except core.UsageError as e:
        return str(e).split("\\n")[0]  # (the report's lines, escaped: one line)
    return "ok"


@ps.scenario(kernel="v5.4", cpus=2, pages=512)
def z3fold_alloc_on_two_cpus(k):
    """CPU 1 allocates 1000 bytes (16 chunks: 46 left in its page), then CPU 0 2944 bytes
    (46 chunks): an exact fit on CPU 1's list."""
    pool = k.z3fold()
    Z3FOLD_PAGES.clear()

    def alloc(size):
        h = yield ps.call("z3fold_alloc", pool.id, size)
        Z3FOLD_PAGES.append((yield ps.call("z3fold_page_of", pool.id, h)))

    a = k.cpu(1).run(alloc, 1000, name="cpu1")
    b = k.cpu(0).run(alloc, 2944, name="cpu0")
    return ps.script(a, b)


def exact_fit_from_another_cpu(kernel: str, fixes: Fixes) -> bool:
    run = z3fold_alloc_on_two_cpus.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return Z3FOLD_PAGES[0] == Z3FOLD_PAGES[1]


def pool_found_through_the_slots(kernel: str, fixes: Fixes) -> bool:
    """Whether the release of a page whose last object went finds the pool through the
    slots (slots_to_pool), which on 5.2 free_handle has just freed (KASAN)."""
    run = z3fold_free_of_the_last_object.run(kernel=kernel, fixes=fixes)
    return any(e.get("func") == "slots_to_pool" for e in run.trace())


def destroys_first(kernel: str, fixes: Fixes) -> str:
    """The workqueue z3fold_destroy_pool drains first."""
    run = z3fold_destroy_after_free.run(kernel=kernel, fixes=fixes)
    return next(e["obj"] for e in steps(run, "z3fold_destroy_pool") if e.get("obj", "").startswith("workqueue"))


def frees_the_inode_first(kernel: str, fixes: Fixes) -> bool:
    """Whether z3fold_destroy_pool frees the pool's inode before it drains a workqueue."""
    first = steps(z3fold_destroy_after_free.run(kernel=kernel, fixes=fixes), "z3fold_destroy_pool")[0]
    return "obj" not in first  # kfree's scheduling point touches no one object


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_destroy_after_free(k):
    """zswap frees the pool's one object (its page goes to the release work), then destroys
    the pool."""
    pool = k.z3fold()
    a = pool.alloc(100)

    def zswap():
        yield ps.call("z3fold_free", pool.id, a)
        yield ps.call("z3fold_destroy_pool", pool.id)

    k.cpu(0).run(zswap, name="zswap")


def isolation_tests_the_claim_first(kernel: str, fixes: Fixes) -> bool:
    """Whether z3fold_page_isolate tests PAGE_CLAIMED (bit 4, "dirty") before its lock."""
    ops = [(e["op"], e.get("bit")) for e in steps(z3fold_page_compacted.run(kernel=kernel, fixes=fixes),
                                                  "z3fold_page_isolate")]
    return ("bit_test", "dirty") in ops[:ops.index(("spin_lock", None))]


@ps.scenario(kernel="v4.19", cpus=1, pages=512)
def z3fold_free_one_of_two(k):
    """P holds a and b; a's free queues P's compaction."""
    pool = k.z3fold()
    a = pool.alloc(1000)
    pool.alloc(1000)
    k.cpu(0).run(pool.free, a, name="free")


def free_references_for_the_compaction(kernel: str, fixes: Fixes) -> bool:
    """Whether z3fold_free takes a page reference for the compaction it queues."""
    run = z3fold_free_one_of_two.run(kernel=kernel, fixes=fixes)
    return sum(e["op"] == "atomic_rmw" for e in steps(run, "z3fold_free")) == 2  # the put, and the get


def alloc_after_release(kernel: str, fixes: Fixes, gfp: int) -> tuple[bool, bool]:
    """a's page P went stale (its last object freed); before the release worker frees it,
    z3fold_alloc(gfp) allocates: (whether it took P, whether it locked its new page with
    lock_page, which it does when it may sleep)."""
    run = z3fold_alloc_after_release.bind(gfp=gfp).run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    P, got = Z3FOLD_PAGES
    return got == P, called_in(run, "z3fold_alloc", "lock_page")


# ---- z3fold, 4.8 to 4.14 ----


def last_handle_after_compaction(kernel: str, fixes: Fixes) -> int:
    """P's first and last objects go, its middle one moves to the front (first_num 1); the
    low bits of the next handle, a LAST one's ((LAST + first_num) & BUDDY_MASK)."""
    k, pool = z3fold_pool(kernel, fixes)
    a, b, _ = (k.call("z3fold_alloc", pool, 1000) for _ in range(3))
    k.call("z3fold_free", pool, a)
    k.call("z3fold_free", pool, b)
    return k.call("z3fold_alloc", pool, 1000) & 63


def fits_after_the_middle_object(kernel: str, fixes: Fixes) -> bool:
    """P holds three 16-chunk objects; the last goes: whether 31 chunks fit after the middle
    one (chunks 17 to 32 of 64)."""
    k, pool = z3fold_pool(kernel, fixes)
    a, b, _ = (k.call("z3fold_alloc", pool, 1000) for _ in range(3))
    k.call("z3fold_free", pool, b)
    return k.call("z3fold_page_of", pool, k.call("z3fold_alloc", pool, 31 * 64)) == k.call("z3fold_page_of", pool, a)


def compaction_moves_the_middle_next_to_the_last(kernel: str, fixes: Fixes) -> bool:
    """P holds a (16 chunks), b (16, last) and c (2, middle); a goes: whether 40 chunks then
    fit in P (c moved next to b), and c kept its data."""
    k, pool = z3fold_pool(kernel, fixes)
    a, _, c = k.call("z3fold_alloc", pool, 1000), k.call("z3fold_alloc", pool, 1000), k.call("z3fold_alloc", pool, 100)
    k.call("z3fold_write", pool, c, 9)
    P = k.call("z3fold_page_of", pool, a)
    k.call("z3fold_free", pool, a)
    fits = k.call("z3fold_page_of", pool, k.call("z3fold_alloc", pool, 40 * 64)) == P
    assert k.call("z3fold_read", pool, c) == 9
    return fits


def free_takes_the_page_lock(kernel: str, fixes: Fixes) -> bool:
    run = z3fold_free_one_of_two.run(kernel=kernel, fixes=fixes)
    return any(e["op"] == "spin_lock" and e["obj"].startswith("zhdr->page_lock") for e in steps(run, "z3fold_free"))


def free_puts_a_reference(kernel: str, fixes: Fixes) -> bool:
    return any(e["op"] == "atomic_rmw" for e in steps(z3fold_free_one_of_two.run(kernel=kernel, fixes=fixes), "z3fold_free"))


def alloc_trylocks_a_listed_page(kernel: str, fixes: Fixes) -> bool:
    run = z3fold_alloc_on_two_cpus.run(kernel=kernel, fixes=fixes)
    assert run.ok, run.report()
    return any(e["op"] == "spin_trylock" for e in steps(run, "z3fold_alloc"))


def free_queues_the_compaction(kernel: str, fixes: Fixes) -> bool:
    return any(e["op"] == "queue_work" for e in steps(z3fold_free_one_of_two.run(kernel=kernel, fixes=fixes), "z3fold_free"))


def release_clears_needs_compacting(kernel: str, fixes: Fixes) -> bool:
    """Whether the release of a page clears NEEDS_COMPACTING (bit 2, "referenced")."""
    run = z3fold_free_of_the_last_object.run(kernel=kernel, fixes=fixes)
    return ("bit_clear", "referenced") in {(e["op"], e.get("bit")) for e in steps(run, "__release_z3fold_page")}


S_4_11 = "z3fold-use-per-page-spinlock"
K_4_11 = "5a27aa822029"
# 4.11's z3fold fixes, whose code d30561c56f41 (4.14) rewrote: no preset has one without it,
# so each is probed on v4.9, flipped on with the fixes it needs: fix -> (probe, with the
# fix, without it, the fixes it needs).
Z3FOLD_4_11: dict[str, tuple[Callable[[str, Fixes], Any], Any, Any, Fixes]] = {
    "f201ebd87652": (last_handle_after_compaction, 0, 4, {}),
    "z3fold-fix-header-size-related-issues": (fits_after_the_middle_object, True, False, {}),
    "1b096e5ae9f7": (compaction_moves_the_middle_next_to_the_last, True, False, {}),
    S_4_11: (free_takes_the_page_lock, True, False, {}),
    K_4_11: (free_puts_a_reference, True, False, {S_4_11: True}),
    # Reclaim's last put returns with pool->lock held, and the store spins on it.
    "z3fold-fix-spinlock-unlocking-in-page-reclaim": (
        lambda k, f: keys(z3fold_kref_rework_4_11.z3fold_reclaim_then_store.run(kernel=k, fixes=f)),
        (), ("bug:__schedule_bug", "deadlock"), {S_4_11: True, K_4_11: True}),
    "z3fold-fix-page-locking-in-z3fold-alloc": (alloc_trylocks_a_listed_page, True, False, {S_4_11: True}),
}


@ps.scenario(kernel="v5.4", cpus=1, pages=512)
def z3fold_reclaim_one(k):
    pool = k.z3fold()
    pool.alloc(1000)
    k.cpu(0).run("z3fold_reclaim", pool.id, 1, name="reclaim")


PROBES: dict[str, tuple[Callable[[str, Fixes], Any], Any, Any]] = {
    # ---- 4.5 to 4.7.4, on v4.4 ----
    "698b1b30642f": (kcompactd_starts, True, False),
    "abort-free-scanner-if-split-fails": (free_pages_tried, 2, 6),
    "zs-malloc-gfp": (zs_malloc_migratetype, "Movable", "Unmovable"),
    "balloon-dequeue-under-lock": (
        lambda k, f: keys(balloon_dequeue_poison.balloon_dequeue_poison.run(kernel=k, fixes=f)),
        (), ("oops:balloon_page_dequeue",)),
    "f68b992bbb47": (releases_under_balloon_lock, True, False),
    "37cf99e08c6f": (lambda k, f: keys(leak_more_than_inflated.run(kernel=k, fixes=f)),
                     (), ("bug:balloon_page_dequeue",)),
    "da9556a2367c": (write_takes_the_stream_mutex, False, True),
    "71994620bb25": (deflates_on_oom_through, "balloon_shrink", "balloon_oom_notify"),
    "fix-shrinker-scan-number-of-pages": (
        lambda k, f: keys(balloon_shrinker_overdeflate.balloon_shrinker_overdeflate.run(kernel=k, fixes=f)),
        (), ("check:shrinker_frees_at_most_nr_to_scan",)),
    "da10329cb057": (deflates_on_oom_through, "balloon_oom_notify", "balloon_shrink"),
    "zram-gfp-movable": (zram_page_migratetype, "Movable", "Unmovable"),
    # 120 free order-0 pages: above min + 16, below low + 16.
    "8348faf91f56": (lambda k, f: order3_compaction(k, f, 120)[0] == SKIPPED, False, True),
    # 100 free pages with an order-3 block: the order-3 watermark holds at min, not at low.
    "correct-watermark-for-compaction-success": (lambda k, f: order3_compaction(k, f, 100, block3=True)[0], SUCCESS, SKIPPED),
    # There, compaction's SUCCESS resets the zone's deferral (compact_order_failed = 4);
    # the low-watermark check of 4.8 does not.
    "dont-recheck-watermarks-after-compact-success": (
        lambda k, f: order3_compaction(k, f, 100, block3=True), (SUCCESS, 4), (SUCCESS, 0)),
    # 140 free pages in order-2 blocks: a fragmentation index of 472 refused order 3.
    "restrict-fragindex-to-costly-orders": (
        lambda k, f: order3_compaction(k, f, 140, hole_order=2)[0], COMPLETE, SKIPPED),
    "6afcf8ef0ca0": (lambda k, f: keys(nr_isolated_stall.nr_isolated_stall.run(kernel=k, fixes=f)),
                     (), ("check:no_stall",)),
    "73e64c51afc5": (gfp_nofs_order9_allocates, True, False),
    "3bc48f96cf11": (unmovable_from_free_pageblock_0, 1, 256),
    "02aa0cdd7248": (claims_pageblock_0, "Unmovable", "Movable"),
    "7a8f58f39188": (movable_from_unmovable, 0, 4),
    # 5.1: the pageblock A's compaction empties is captured for A; before, B took it off
    # the free list before A looked.
    "5e1f0f098b46": (who_gets_pageblock_0, "A", "B"),
    # 5.1: a compaction that was skipped uses the block a softirq freed while its capture
    # control was exposed; before, WARN_ON_ONCE(page), and the block was lost.
    "always-use-a-captured-page": (lambda k, f: sorted({o.key for o in compaction_capture_irq.compaction_skipped_capture.run(
        kernel=k, fixes={"always-use-a-captured-page": True, **f}).outcomes}),
        [], ["leak", "warn:__alloc_pages_direct_compact"]),
    # 5.8: a block a softirq frees after the compactor read its capture is not lost.
    "b9e20f0da1f5": (lambda k, f: {o.key for o in compaction_capture_irq.compaction_capture_irq.run(
        kernel=k, fixes=f).outcomes}, set(), {"leak"}),
    # 5.0: a Normal-zone allocation steals a whole free pageblock of a lower zone before it
    # mixes one of Normal's (0a79cdad5eb2 lost the flag in 5.0; the repair set it again).
    "6bb154504f8b": (unmovable_page_zone, "DMA32", "Normal"),
    "fix-never-set-alloc-nofragment": (unmovable_page_zone, "DMA32", "Normal"),
    # 6.1: an order-10 allocation's ALLOC_NOFRAGMENT fallback no longer searches down to
    # (and claims) order-9 pageblocks, smaller than it asked for.
    "only-search-higher-order-when-fallback": (order9_block_claimed, "Movable", "Unmovable"),
    # No unmovable pageblock has pages to migrate: since 282722b0d258 a first async attempt
    # (stall, fail) scans only those; the sync one that follows serves the allocation.
    "282722b0d258": (lambda k, f: {s: n for s, n in order2_compaction(k, f).items()
                                   if s != "pgmigrate_success"},
                     {"compact_stall": 2, "compact_fail": 1}, {"compact_stall": 1, "compact_fail": 0}),
    # The sync attempt would steal from a movable pageblock: it finishes the pageblock (256
    # LRU pages) instead of stopping at the first order-2 block (one batch of 32).
    "baf6a9a1db5a": (lambda k, f: order2_compaction(k, f)["pgmigrate_success"], 256, 32),
    # ... and since efe771c7603b so does a compaction for a movable page.
    "efe771c7603b": (lambda k, f: order2_compaction(k, f, "GFP_HIGHUSER_MOVABLE")["pgmigrate_success"],
                     256, 32),
    # 5.11: the reference and PG_lru's clearing come before the LRU lock; before, under it.
    "9df41314390b": (lambda k, f: precedes(lru_isolation_steps(k, f), "clear lru", "lock"),
                     True, False),
    # 5.18: with ISOLATE_UNEVICTABLE (compaction's mode) PG_unevictable is not read.
    "89f6c88a6ab4": (lambda k, f: "test unevictable" in lru_isolation_steps(k, f), False, True),
    # 6.1: the reference before the pinned-page check; before, after it.
    "829ae0f81ce0": (lambda k, f: precedes(lru_isolation_steps(k, f), "get", "mapping"),
                     True, False),
    # 5.5 only drops the old page; before, a new page was allocated, then both freed.
    "handle-freed-page-at-the-first-place": (
        under_unmap_and_move, ("put_page",), ("alloc_pages", "put_page (x2)")),
    "d20bdd571ee5": (
        lambda k, f: keys(contig_range_isolation_stall.contig_range_isolation_stall.run(kernel=k, fixes=f)),
        (), ("hang",)),
    # Without it zs_page_migrate refuses the emptied zspage and zs_page_putback frees it.
    "77ff465799c6": (
        lambda k, f: "zs_page_putback" in functions(zs_migrate_empty_leak.zs_migrate_empty_leak.run(
            kernel=k, fixes=f)),
        False, True),
    "1a87aa03597e": (
        lambda k, f: keys(zs_migrate_empty_leak.zs_migrate_empty_leak.run(kernel=k, fixes=f)),
        (), ("leak",)),
    "701d678599d0": (
        lambda k, f: keys(zs_destroy_pool_race.zs_destroy_pool_race.run(kernel=k, fixes=f)),
        (), ("uaf:PageMovable",)),
    # zs_compact returns the pages it freed; before, the pool's running total. (The lost
    # update it also fixed is zs_compact_lost_update.py's; since 5.17 pool->migrate_lock
    # serialises the compactions, and that race is gone with or without it.)
    "239592815805": (compacted_twice, [1, 0], [1, 1]),
    # A page that failed for good goes back after migrate_pages returns; before, inside it.
    "dd4ae78a21fc": (put_back_inside_migrate_pages, False, True),
    "c0547d0b6a4b": (takes_pool_lock, True, False),
    # The first compaction is in __zs_compact: the second returns 0 at once, and the first
    # then frees the zspage; before, the second compacted and the first found nothing.
    "d2658f2052c7": (compactions_returned, [0, 1], [1, 0]),
    "4b5d1e47b694": (lambda k, f: takes_pool_lock(k, f, "zs_page_isolate"), True, False),
    # Class 208: 3 pages of 59 objects (least waste up to 8 pages), or 2 of 39.
    "6260ae358345": (lambda k, f: class_geometry(k, f, 200), (208, 3, 59), (208, 2, 39)),
    "b46402fa894f": (lambda k, f: class_geometry(k, f, 3592), (3632, 8, 9), (4096, 1, 1)),
    "a40a71e8343e": (next_object_page, 0, 3),
    "4c7ac97285d8": (lambda k, f: list(class_of(k, f, 1000)["zspages"])[:2],
                     ["inuse_ratio_0", "inuse_ratio_10"], ["empty", "almost_empty"]),
    # 119 classes, and class 1000's drops: one per destination filled (2), or one after
    # the source was emptied (1).
    "5a845e9f2d66": (pool_lock_drops, 121, 120),
    "f7ddb6125683": (stale_source_outcomes, {"ok"}, {"ok", "uaf:__zs_compact"}),
    # Both pages are unmapped (a new page each, both locked) before the first moves.
    "2ef7dbb26990": (new_pages_before_first_move, 2, 1),
    "4bb6dc79d987": (migrated_after_the_lock, False, True),
    "4fbbb3fde3c6": (second_compaction_waits, True, False),
    # The first migrates its pages meanwhile: the second looks again when its wait ends,
    # HZ/50 in reclaim_throttle or HZ/10 in congestion_wait.
    "d818fca1cac3": (lambda k, f: throttle_waits(second_compaction_throttled_by_32_of_40, k, f),
                     [("reclaim_throttle", 20_000_001)], [("congestion_wait", 100_000_001)]),
    # 5.17: zs_free frees the zspage of an isolated page itself; before, the migration
    # (an empty zspage since 77ff465799c6) left it to the free worker.
    "c4549b871102": (lambda k, f: "async_free_zspage" in zs_isolated_run(k, f), False, True),
    "b475d42d2c43": (takes_pool_migrate_lock, True, False),
    "2505a981114d": (
        lambda k, f: keys(zs_lock_zspage_migration.zs_lock_zspage_migration.run(
            kernel=k, fixes={**zs_lock_zspage_migration.BACKPORTS, **f})),
        (), ("oops:lock_zspage",)),
    "68f2736a8583": (
        lambda k, f: "zs_flush_migration" in functions(zs_destroy_pool_race.zs_destroy_pool_race.run(
            kernel=k, fixes=f)),
        True, False),
    # The page freed under the migration: since 6.0 not locked to end its isolation.
    "160088b3b6d7": (
        lambda k, f: unmap_steps(zs_free_while_isolated.run(kernel=k, fixes=f))[:2],
        ("put_page",), ("lock_page", "PageMovable")),
    "62906027091f": (waiter_sets_pg_waiters, True, False),
    "a41ec880aa7b": (huge_page_flag, False, True),
    # SetPageIsolated, atomic, after the PageIsolated test; before, a load and a store.
    "356ea3865687": (isolation_stores_page_flags, ["bit_test", "bit_set"], ["read", "bit_set"]),
    "195a8c43e93d": (lambda k, f: ("leak_balloon", "list_add") in balloon_ops(k, f), True, False),
    "c7cdff0e8647": (allocates_before_balloon_lock, True, False),
    "418a3ab1e778": (enqueue_takes_pages_lock_first, True, False),
    # 4.14 writes an incompressible page to the backing device as it stores it; 5.0 when
    # writeback_store asks. Without the series there is no backing device.
    "db8ffbd4e763": (incompressible_page_block, 1, None),
    "a939888ec38b": (incompressible_write_returns, 0, 1),
    "e82592c4fd7e": (slot_locks_of_a_read, 2, 1),
    "23eddf39b2c2": (blocks_counted, 2 + 1 + 2, 0),  # two blocks in use, a read, two writes
    "1d69a3f8ae77": (idle_writeback_of_no_idle_slot, 0, 4),
    # Above 3/4 of a page but under zsmalloc's huge class size: stored compressed.
    "drop-max-zpage-size": (stored_size_of_3100_bytes, 3100, 4096),
    # The slot stays (counted in miss_free); before, swap waited for the reader's unlock
    # and freed it.
    "3c9959e02547": (missed_frees, (1, 1), (0, 0)),
    "e914d8f00391": (read_completion_frees_the_slot, False, True),
    "943fb61dd66f": (lambda k, f: keys(z3fold_migrate_map_uaf.z3fold_migrate_map_uaf.run(kernel=k, fixes=f)),
                     (), ("uaf:z3fold_map",)),
    # A free between the failed migration's unlock and its clear of PAGE_CLAIMED took the
    # page for claimed and skipped free_handle: the slots leak.
    "4a1c3839108a": (lambda k, f: leaks(z3fold_failed_migration.z3fold_free_in_failed_migration, k, f),
                     False, True),
    # (On v6.1 without it dpor also finds do_compact_page listing the emptied page on
    # unbuddied[NCHUNKS]: corruption.)
    "04094226d6ce": (lambda k, f: {"ok", "warn:__release_z3fold_page", "deadlock"} <= set(
        z3fold_reclaim_free_race.z3fold_reclaim_free_race.explore(
            kernel=k, fixes=f, strategy="dpor", preemption_bound=2).outcomes), False, True),
    "6cf9a34967ed": (lambda k, f: leaks(z3fold_failed_migration.z3fold_putback_unlisted, k, f),
                     False, True),
    "df6f0f1d0cf0": (reuses_the_stale_page, False, True),
    "f4bad643c1d6": (highmem_alloc_refused, True, False),
    "z3fold-free-no-buddy-del": (free_takes_pool_lock, False, True),
    "e774a7bc7f0a": (page_on_pool_lru, False, True),
    # 5.4.0's z3fold_free compacts a full page with its own claim set: do_compact_page
    # leaves the page off every unbuddied list.
    "4a3ac9311dac": (lambda k, f: keys(z3fold_free_of_a_full_page.run(kernel=k, fixes=f)), (), ("leak",)),
    # ---- z3fold, 4.14, on v4.14 ----
    "d30561c56f41": (free_queues_the_compaction, True, False),
    # Its pool->lock before the put is 4.14.0's self-deadlock (the lock-ups fix of 4.17).
    "z3fold-fix-potential-race-in-z3fold-reclaim-page": (
        lambda k, f: "deadlock" in keys(z3fold_reclaim_one.run(kernel=k, fixes=f)), True, False),
    # (Its NULL page in z3fold_alloc: scenarios/z3fold_stale_reuse_4_14.py.)
    "z3fold-fix-stale-list-handling": (release_clears_needs_compacting, True, False),
    # ---- z3fold, 4.15 to 4.17, on v4.19 ----
    "5d03a6613957": (free_references_for_the_compaction, True, False),
    # zswap's gfp (no direct reclaim): 4.14 took the stale page, its work not pending.
    "z3fold-limit-use-of-stale-list-for-allocation": (
        lambda k, f: alloc_after_release(k, f, core.GFP["__GFP_KSWAPD_RECLAIM"])[0], False, True),
    # __GFP_DIRECT_RECLAIM alone may sleep: it reuses the stale page (to 5.15) and locks
    # a new movable page with lock_page (from 5.3).
    "z3fold-use-gfpflags-allow-blocking": (
        lambda k, f: any(alloc_after_release(k, f, core.GFP["__GFP_DIRECT_RECLAIM"])), True, False),
    # 4.14's reclaim drops the page's last reference under pool->lock, which the release
    # takes again (on v5.4 and later, the fixes flipped with it also let 5.2's compaction
    # list the emptied page: corruption, then a WARN).
    "z3fold-fix-reclaim-lock-ups": (lambda k, f: "deadlock" in keys(z3fold_reclaim_one.run(kernel=k, fixes=f)),
                                    False, True),
    # ---- z3fold, 4.20 to 5.4, on v5.4 ----
    "ca0246bb97c2": (headless_free_claims, True, False),
    "z3fold-extend-search": (exact_fit_from_another_cpu, True, False),
    "7c2b8baa61fe": (handle_is_an_address, False, True),
    "1f862989b04a": (page_is_movable, True, False),
    "z3fold-lock-page-before-setpagemovable": (
        alloc_outcome, "ok", "kernel BUG in __SetPageMovable: VM_BUG_ON_PAGE(!PageLocked(page))"),
    "f1549cb5ab2b": (highmem_alloc_refused, False, True),
    # 5.2's z3fold_page_migrate try-locked the page the migration holds locked.
    "be03074c9af2": (lambda k, f: called_in(z3fold_page_compacted.run(kernel=k, fixes=f),
                                            "z3fold_page_migrate", "trylock_page"), False, True),
    "bb9a374dfa3a": (pool_found_through_the_slots, False, True),
    # c92d2f38563d's work_pending test: a read of the old header's work.
    "c92d2f38563d": (lambda k, f: any(e.get("obj", "").startswith("work") and e["op"] == "read" for e in steps(
        z3fold_page_compacted.run(kernel=k, fixes=f), "z3fold_page_migrate")), True, False),
    "6051d3bd3b91": (destroys_first, "workqueue z3fold compact", "workqueue z3fold release"),
    "b997052bc3ac": (frees_the_inode_first, False, True),
    "z3fold-fix-retry-mechanism-in-page-reclaim": (isolation_tests_the_claim_first, True, False),
    "63398413c00c": (lambda k, f: keys(z3fold_headless_free.run(kernel=k, fixes=f)), (), ("leak",)),
    "5b6807de1144": (free_claims_first, True, False),
    "zswap-do-not-map-same-object-twice": (
        lambda k, f: sum(e["kind"] == "enter" and e["func"] == "z3fold_map"
                         for e in z3fold_reclaim_one.run(kernel=k, fixes=f).trace()), 1, 2),
    "d8f117abb380": (lambda k, f: set(z3fold_free_handle_uaf.z3fold_free_handle_uaf.explore(
        kernel=k, fixes=f, strategy="dpor", preemption_bound=2).outcomes), {"ok"}, {"ok", "uaf:free_handle"}),
    "fc5488651c7d": (frees_the_slots, "free_handle", "__release_z3fold_page"),
    "dcf5aedb24f8": (isolation_claims, True, False),
    "6d679578fe9c": (
        lambda k, f: keys(z3fold_headless_reclaim_free.z3fold_headless_reclaim_free.run(kernel=k, fixes=f)),
        (), ("uaf:zswap_writeback_entry",)),
    "avoid-duplicate-page-removal": (
        lambda k, f: keys(balloon_enqueue_double_del.balloon_enqueue_double_del.run(kernel=k, fixes=f)),
        (), ("oops:balloon_page_enqueue_one",)),
}

PRESETS = {p["name"]: p for p in core.presets() if not p["user"]}
NEEDS = {f["name"]: f["needs"] for f in core.fixes()}
REMOVED_BY = {f["name"]: f["removed_by"] for f in core.fixes()}


def off_with_dependents(fix: str, has: set[str]) -> Fixes:
    """Flip `fix` off, and every fix the preset has that needs it, directly or not (but not
    one whose code a later fix still on removed: it needs nothing there)."""
    off = {fix}
    while True:
        more = {f for f in has - off
                if any(n in off for n in NEEDS[f]) and REMOVED_BY[f] not in has - off}
        if not more:
            return {f: False for f in off}
        off |= more


# A fix whose code a later fix of the preset removed has nothing left to probe there (and
# flipping it is a UsageError, tested below).
# The root's fixes and 4.8's merge of non-LRU migration are what the other tests are
# written against; every other fix is probed.
BASE = set(PRESETS["v4.4"]["fixes"]) | {"c6c919eb90e0", "bda807d44454", "b1123ea6d3b3",
                                         "1b8320b620d6"}
ADDED = [(p, f) for p, d in PRESETS.items() for f in d["fixes"]
         if f not in BASE and p != "movable-v3" and REMOVED_BY[f] not in d["fixes"]]

# Fixes whose behaviour only a kernel thread shows on every preset that has them
# (scenarios start user tasks, and kswapd=True is refused after v5.4: the later kswapd is
# not modelled), pinned by the GoogleTests named.
PINNED_IN_CPP = {
    "b485c6f1f9f5": "CompactionThrottle.KcompactdLoopStarvesItsCpuWithoutCondResched",
    "fix-zone-balance-check-in-prepare-kswapd-sleep":
        "Kswapd.WithFixZoneBalanceCheckOneBalancedZoneLetsKswapdSleep",
    "e716f2eb24de": "Kswapd.WithoutE716f2eb24deANeverWokenKswapdBalancesZoneZeroOnly",
    # Also scenarios/kswapd_busyloop_4_12.py, both ways on v4.14.
    "c73322d098e4": "Kswapd.WithoutC73322d098e4KswapdNeverSleepsOnAnUnreclaimableNode",
    "9092c71bb724": "Shrinker.Since9092c71bb724AShareByPriorityNotTwiceTheCache",
    "e496612c5130": "Shrinker.WithE496612c5130AWaitingRegistrationStopsTheWalk",
    "172b06c32b94": "Shrinker.With172b06c32b94ASmallCacheIsScannedAtEveryPriority",
    "a9a238e83fbb": "Shrinker.With172b06c32b94ASmallCacheIsScannedAtEveryPriority",
    "wakeup-kcompactd-even-if-kswapd-cannot-free-more-memory":
        "Kswapd.SinceWakeupKcompactdEvenIfKswapdCannotAnAtomicCallerWakesKcompactd",
    # 5.0's watermark boost and kswapd up to 5.4 (kswapd=True is refused after v5.4).
    "1c30844d2dfe": "Kswapd.With1c30844d2dfeAFallbackBoostsTheWatermarksUntilKswapdRuns",
    "73444bc4d8f9": "Kswapd.With73444bc4d8f9TheBoostWakesKswapdAfterZoneLockIsDropped",
    "fix-division-by-zero-when-boosting-watermarks":
        "Kswapd.WithTheDivisionByZeroFixAZoneWithoutAHighWatermarkIsNotBoosted",
    "ignore-the-boost-for-isolation-and-compaction":
        "Kswapd.SinceIgnoreTheBoostForIsolationABoostedZoneStillGivesCompactionTargets",
    "dffcac2cb88e": "Kswapd.WithDffcac2cb88eAKswapdThatCannotSleepKeepsItsClasszone",
    "do-not-special-case-slab-reclaim-when-boosted":
        "Kswapd.SinceDoNotSpecialCaseSlabReclaimABoostedPassCallsTheShrinkers",
    # Also scenarios/boost_small_zone_oom_5_7.py, both ways on v5.4.
    "14f69140ff9c": "Kswapd.With14f69140ff9cAZoneOfFewerThanFourPageblocksIsNotBoosted",
    # Also scenarios/boost_atomic_order0_5_9.py, both ways on v5.4.
    "f80b08fc4453": "Kswapd.WithF80b08fc4453AnAtomicAllocationIgnoresTheBoostAtTheMinWatermark",
    "597c892038e0": "Kswapd.With597c892038e0AStealWithoutABoostWakesNoKswapd",
    "dont-wake-kswapd-from-rmqueue-without-kswapd-reclaim":
        "Kswapd.SinceRmqueueWakeNeedsKswapdReclaimACallerWithoutItLeavesTheFlag",
    # Scanner and allocator internals no scenario observes on every preset.
    "fdd048e12c9a": "CompactionScanner.WithoutFdd048e12c9aDirectAsyncGoesOnPastAFailure",
    "no-watermark-check-in-compact-finished": "CompactionFinished.StopsAtASuitablePageBelowTheWatermarkSince4_12",
    # A task holding the LRU lock while compaction runs needs a C++ task.
    "cb2dcaf023c2": "CompactionDirect.AsyncCompactionFinishesItsPageblockOnAContendedLockSincecb2dcaf023c2",
    "479f854a207c": "PageAllocZone.WithoutDebugVmOnlyA479f854a207cKernelHandsOutASpoiledOrder0Page",
    # zs_compact_pin_bit.py needs 4.8's page migration; on v4.7 the race is the C++ one.
    "c102f07ca0b0": "ZsPinBit.WithoutC102f07ca0b0CompactionUnpinsZsFreesPinAndZsFreeUsesAFreedPage",
}
CASES = [(p, f) for p, f in ADDED if f not in PINNED_IN_CPP]


def test_the_googletests_that_pin_fixes_exist() -> None:
    cpp = os.path.join(ROOT, "tests", "cpp")
    source = ""
    for f in sorted(os.listdir(cpp)):
        if f.endswith(".cpp"):
            with open(os.path.join(cpp, f)) as src:
                source += src.read()
    for name in PINNED_IN_CPP.values():
        suite, test = name.split(".")
        assert f"TEST({suite}, {test})" in source or f"TEST_F({suite}, {test})" in source, name


def test_every_fix_a_release_added_after_4_4_has_a_probe() -> None:
    assert {f for _, f in ADDED} == set(PROBES) | set(PINNED_IN_CPP)
    assert not set(PROBES) & set(PINNED_IN_CPP)


@pytest.mark.parametrize(("preset", "fix"), CASES, ids=[f"{p}-{f}" for p, f in CASES])
def test_the_fix_changes_what_it_names_on_every_preset_that_has_it(preset: str, fix: str) -> None:
    probe, with_fix, without = PROBES[fix]
    assert probe(preset, {}) == with_fix
    flips = off_with_dependents(fix, set(PRESETS[preset]["fixes"]))
    assert probe(preset, flips) == without, flips


def emptied_page_listed(kernel: str, fixes: Fixes) -> bool:
    """Whether dpor (bound 1) finds do_compact_page listing a page with no object
    (tests/test_z3fold.py has the details)."""
    ex = z3fold_reclaim_stale_handle.z3fold_reclaim_stale_handle.explore(
        kernel=kernel, fixes=fixes, strategy="dpor", preemption_bound=1)
    return "corruption" in ex.outcomes


# Fixes that a later fix of the same release rewrote: no preset has one without the other,
# so each is probed on a preset with the later one off: fix -> (preset, probe, with the
# fix, without it, the other flips).
A939 = {"a939888ec38b": True, "e82592c4fd7e": True, "3c9959e02547": True}
REWRITTEN_IN_ITS_RELEASE: dict[str, tuple[str, Callable[[str, Fixes], Any], Any, Any, Fixes]] = {
    **{fix: ("v4.9", probe, with_fix, without, needs)
       for fix, (probe, with_fix, without, needs) in Z3FOLD_4_11.items()},
    # One page, then the stop (without the limit, a939888ec38b's writeback takes every slot).
    "bb416d18b850": ("v4.19", writebacks_within_a_budget_of_one, 1, 4, {**A939, "23eddf39b2c2": True}),
    # 5.0 lost ALLOC_NOFRAGMENT, which 5.1's repair set again.
    "0a79cdad5eb2": ("v4.19", unmovable_page_zone, "Normal", "DMA32", {"6bb154504f8b": True}),
    "z3fold-introduce-helper-functions": (
        "v5.4", emptied_page_listed, True, False, {"z3fold-fix-retry-mechanism-in-page-reclaim": False}),
}


def test_the_fixes_rewritten_in_their_release_are_probed_with_the_rewrite_off() -> None:
    first = {f: next(p for p, d in PRESETS.items() if f in d["fixes"]) for f in NEEDS}
    assert set(REWRITTEN_IN_ITS_RELEASE) == {f for f, later in REMOVED_BY.items()
                                              if later and first[f] == first[later]}
    assert not set(REWRITTEN_IN_ITS_RELEASE) & set(PROBES)


@pytest.mark.parametrize("fix", sorted(REWRITTEN_IN_ITS_RELEASE))
def test_a_fix_rewritten_in_its_release_changes_what_it_names(fix: str) -> None:
    preset, probe, with_fix, without, flips = REWRITTEN_IN_ITS_RELEASE[fix]
    assert REMOVED_BY[fix] not in {f for f, on in flips.items() if on}
    assert probe(preset, {**flips, fix: True}) == with_fix
    assert probe(preset, {**flips, fix: False}) == without


@pytest.mark.parametrize("fix", sorted(f for f, later in REMOVED_BY.items() if later))
def test_flipping_a_fix_whose_code_is_gone_is_refused(fix: str) -> None:
    later = REMOVED_BY[fix]
    preset = next(p for p, d in PRESETS.items() if later in d["fixes"])  # the first with it
    with pytest.raises(core.UsageError, match=f"has no effect with fix '{later}'"):
        core.Kernel(preset=preset, fixes={fix: False})
    # With the fix that removed it flipped off too, it means something again (and the
    # fixes that need it go with it).
    has = set(PRESETS[preset]["fixes"])
    off = off_with_dependents(later, has)
    core.Kernel(preset=preset, fixes={**off, **off_with_dependents(fix, has - set(off))})
