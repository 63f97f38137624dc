"""Fragmentation from zram pages, and high-order allocations (cover letter, seed 004).

"embedded systems (e.g. webOS, android) use lots of non-movable pages (e.g. zram, GPU
memory), so we have seen several reports about troubles of small high-order allocation".
A zram device fills memory with zsmalloc pages interleaved with a process's anonymous
pages; the process exits, leaving free memory in single pages between zsmalloc pages.
Order-3 allocations (fork's kernel stacks) then need compaction. Before non-LRU migration
(v4.7) compaction cannot move zsmalloc pages and the allocations fail; with it (v4.8) it
moves them and they succeed.
"""

import pagesim as ps

ORDER = 3
WANTED = 8


@ps.scenario(kernel="v4.8", cpus=1, pages=2048)
def fragmentation_zram(k):
    """zram and an app interleave page by page; the app exits; order-3 allocations follow."""
    k.call("zram_create", 8192)
    app = k.process("app")
    slot = 0
    while True:  # two 2 KiB zram objects fill one zsmalloc page; then one app page
        if k.call("zram_write", slot, 2048, slot + 1) != 0:
            break
        slot += 1
        if slot % 2 == 0 and app.fault_in(1) == 0:
            break
    while k.alloc_pages(ORDER, "GFP_ATOMIC") is not None:  # other users took the large blocks
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
    run = fragmentation_zram.run(kernel="v4.7")
    assert run.kernel.stats["pgmigrate_success"] == 0
    assert forks(run, "v4.7") < WANTED, run.kernel.free_blocks()


def test_with_non_lru_migration_they_succeed():
    run = fragmentation_zram.run(kernel="v4.8")
    assert run.ok, run.report()
    assert run.kernel.stats["pgmigrate_success"] > 0
    assert forks(run, "v4.8") == WANTED, run.kernel.free_blocks()
