"""Fragmentation from zram pages, and high-order allocations (cover letter, seed 004).

"embedded systems (e.g. webOS, android) use lots of non-movable pages (e.g. zram, GPU
memory), so we have seen several reports about troubles of small high-order allocation".

An app fills memory and frees every other page; zram's writes fill the holes, and other
kernel users take what is left. Until 4.8 zram's pages are unmovable: they fall back into
the app's movable pageblocks, whose free pages the allocator steals for them (grouping by
mobility cannot keep them apart once the holes are all there is). The app exits, leaving
free memory in single pages between zsmalloc pages. Order-3 allocations (fork's kernel
stacks) then need compaction. Before non-LRU migration (v4.7) compaction cannot move
zsmalloc pages and half the allocations fail; with it (v4.8, where zram also asks for
movable pages) it moves them and they succeed.
"""

import pagesim as ps

ORDER = 3
WANTED = 16


@ps.scenario(kernel="v4.8", cpus=1, pages=2048)
def fragmentation_zram(k):
    """zram fills the holes of an app's memory; the app exits; order-3 allocations follow."""
    k.call("zram_create", 8192)
    app = k.process("app")
    n = app.fault_in(k.state.nr_pages)  # as much as the watermarks allow
    for v in range(0, n, 2):  # the app frees every other page
        app.unmap(v)
    slot = 0
    while k.call("zram_write", slot, 2048, slot + 1) == 0:  # zram fills the holes
        slot += 1
    while k.alloc_pages(0, "GFP_ATOMIC") is not None:  # other kernel users take the rest
        pass
    app.exit()  # free memory is now single pages between zsmalloc pages

    def fork_storm():
        for _ in range(WANTED):
            pfn = yield ps.call("alloc_pages", ORDER, ps.GFP["GFP_KERNEL"])
            if pfn < 0:
                yield ps.call("try_to_compact_pages", ORDER)
                yield ps.call("alloc_pages", ORDER, ps.GFP["GFP_KERNEL"])
        assert (yield ps.call("zram_read", 0)) == 1  # zram data survived any migration

    k.cpu(0).run(fork_storm)


def kernel_pages(state) -> int:
    return sum(1 for p in range(state.nr_pages) if state.page(p)["owner"] == "kernel")


def forks(run, kernel: str) -> int:
    """Order-3 blocks the fork storm got."""
    before = kernel_pages(fragmentation_zram.initial_state(kernel=kernel))
    return (kernel_pages(run.kernel) - before) // (1 << ORDER)


def test_before_non_lru_migration_order3_allocations_fail():
    for kernel in ("v4.4", "v4.7"):
        run = fragmentation_zram.run(kernel=kernel)
        assert run.ok, run.report()
        assert run.kernel.stats["pgmigrate_success"] == 0
        # The one free order-6 block the holes left is all the storm gets.
        assert forks(run, kernel) == WANTED // 2, run.kernel.free_blocks()


def test_with_non_lru_migration_they_succeed():
    # Since 4.12 ("finish whole pageblock to reduce fragmentation") the compaction for an
    # unmovable order-3 page it will steal goes on to the end of the pageblock.
    for kernel, migrated in (("v4.8", 64), ("v6.6", 256)):
        run = fragmentation_zram.run(kernel=kernel)
        assert run.ok, run.report()
        assert run.kernel.stats["pgmigrate_success"] == migrated
        assert forks(run, kernel) == WANTED, run.kernel.free_blocks()


def test_zram_pages_are_unmovable_until_4_8():
    """zram asks zsmalloc for movable pages since the non-LRU migration series."""
    for kernel, migratetype in (("v4.7", "Unmovable"), ("v4.8", "Movable")):
        state = fragmentation_zram.initial_state(kernel=kernel)
        zs = [p for p in range(state.nr_pages) if state.page(p)["owner"] == "zsmalloc"]
        assert {state.page(p)["migratetype"] for p in zs} == {migratetype}
