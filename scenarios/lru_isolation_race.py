"""Two compactions race to isolate one LRU page while its process unmaps it (5.11's
isolation before the LRU lock, 9df41314390b, and 829ae0f81ce0's reference first).

Not a reported bug: what Hugh Dickins's review of the 5.11 series guards against (the v19
patch, linux-mm archive id 24072428280): "isolate_migratepages_block() must clean up
appropriately when rejecting a page, setting PageLRU again if it had been cleared; and a
put_page() after get_page_unless_zero() cannot safely be done while holding
locked_lruvec - it may turn out to be the final put_page(), which will take an lruvec lock
when PageLRU."

Until 5.10 the scanner takes the LRU lock, checks PG_lru again under it, and
`__isolate_lru_page()` takes the reference and clears the bit there: a second scanner
finds the bit clear under the lock. Since 9df41314390b (`v5.15`) each scanner takes a
reference and clears the bit with `TestClearPageLRU()` before it takes the lock: of two
that both passed the racy pinned-page check, one clears the bit and the other drops its
reference (`isolate_fail_put`) after releasing the lock it may hold, since that reference
may be the page's last once the process has unmapped it. Since 829ae0f81ce0 (`v6.1`) the
reference comes before the pinned-page check, which then sees the other scanner's.

The scripted run (`v5.15`): both scanners pass the checks and take their reference, B
finds PG_lru still set, then A isolates and migrates the page; B's `TestClearPageLRU()`
fails and B drops its reference.

Exploration (bounded dpor, preemption bound 1) with the process unmapping the page is
clean on `v5.10`, `v5.15` and `v6.1`: the page is migrated at most once, never lost, and
the LRU lists and PG_lru agree whenever no scanner is between its `TestClearPageLRU()`
and the lock (the invariant check runs at every step).
"""

import pagesim as ps
import pytest


@ps.scenario(kernel="v5.15", cpus=3, pages=512)
def lru_isolation_race(k):
    """Compactions A and B aim at page P; the process unmaps P."""
    app = k.process("app")
    app.fault_in(2)
    P = app.pages()[0]
    a = k.cpu(0).run(k.compaction.isolate, P, name="compact_A")
    b = k.cpu(1).run(k.compaction.isolate, P, name="compact_B")
    u = k.cpu(2).run(app.unmap, 0, name="munmap")
    # Both pass the racy checks and hold a reference; B tests PG_lru, then A isolates P,
    # then B's TestClearPageLRU finds the bit gone; then A migrates P.
    return ps.script(a.before("get_page_unless_zero", P), b.before("get_page_unless_zero", P),
                     a.until("get_page_unless_zero", P), b.until("get_page_unless_zero", P),
                     b.steps(1), a.until("isolate_migratepages_block"), b, a, u)


def b_steps(run) -> list[str]:
    """compact_B's operations on page P and the LRU lock after its reference, up to its
    compaction's end: its PG_lru tests and clear, the lock, its put_page."""
    steps = []
    for e in run.trace():
        if e.get("task") != "compact_B":
            continue
        if e.get("kind") == "enter" and e["func"] in ("get_page_unless_zero", "put_page", "migrate_pages"):
            steps.append(e["func"])
        elif e.get("kind") == "step" and e["func"] == "isolate_migratepages_block":
            if e["op"].startswith("bit_"):
                steps.append(f'{e["op"]} {e["bit"]}')
            elif e["op"] == "spin_lock":
                steps.append("spin_lock " + str(e["obj"]))
    return steps[steps.index("get_page_unless_zero") + 1:]


def test_the_loser_drops_its_reference_outside_the_lock():
    run = lru_isolation_race.run()
    assert run.ok, run.report()
    assert all(s["reached"] for s in run.result.script_status)
    # B found PG_lru set, A cleared it, B's TestClearPageLRU failed (no lock taken, no
    # migration) and B dropped its reference.
    assert b_steps(run) == ["bit_test lru", "bit_test unevictable", "bit_clear lru", "put_page"]
    # A migrated P once; the process then unmapped the new page, which was freed.
    stats = run.kernel.stats
    assert (stats["pgmigrate_success"], stats["pgmigrate_fail"]) == (1, 0)
    assert run.kernel.process_pages(0)[0] is None


# Preemption bound 2: A, B and the munmap interleaved at every shared access.
CLEAN = {"v5.10": 6086, "v5.15": 4314, "v6.1": 4009}


@pytest.mark.parametrize("kernel", sorted(CLEAN))
def test_exploration_never_loses_or_double_isolates_the_page(kernel):
    ex = lru_isolation_race.explore(kernel=kernel, strategy="dpor", preemption_bound=2)
    assert ex.exhausted and ex.outcomes == {"ok": CLEAN[kernel]}, ex
