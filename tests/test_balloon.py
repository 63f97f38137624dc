"""The virtio balloon and the movable test driver through pagesim._core.Kernel.

Balloon: inflate/deflate/dequeue entry points and their views, migration of a balloon page
by compaction, and scenario 4 (balloon_page_dequeue walking the list without pages_lock
while compaction isolates the page it holds: LIST_POISON1). Test driver: migration moves
content and bookkeeping, options, release while isolated, the 4.8 behaviour for a page a
process maps.
"""

from __future__ import annotations

import pagesim._core as core
import pytest

PAGES = 1024
NO_FIX = {"balloon-dequeue-under-lock": False}
DEV = core.BALLOON_OBJECTS["balloon_dev_info"]
OPT = core.TEST_DRIVER_OPTIONS
POISON = "unable to handle kernel paging request at dead000000000100"


def balloon_kernel(pages: int = 2, **kw: object) -> core.Kernel:
    k = core.Kernel(pages=PAGES, cpus=2, **kw)
    k.call("balloon_init")
    assert k.call("balloon_fill", pages) == pages
    return k


def keys(run: core.RunResult) -> list[str]:
    return [o.key for o in run.outcomes]


# ---- balloon: entry points and views ----


def test_entry_points_are_listed():
    names = {e["name"]: e["args"] for e in core.entry_points()}
    assert names["balloon_init"] == ""
    assert names["balloon_fill"] == "n"
    assert names["balloon_leak"] == "n"
    assert names["balloon_dequeue"] == ""
    assert names["balloon_pages"] == ""
    assert names["test_driver_alloc"] == "n"
    assert names["test_driver_release"] == "pfn"
    assert names["test_driver_set"] == "option, value"
    assert names["test_driver_mmap"] == "pfn, pid"
    assert names["test_driver_write"] == "pfn"


def test_fill_and_leak_update_the_balloon_and_the_host():
    k = balloon_kernel(3)
    st = core.balloon_state(k.state)
    assert st["present"]
    assert st["num_pages"] == 3
    assert st["isolated_pages"] == 0
    pages = st["pages"]
    assert len(pages) == 3
    assert sorted(st["host_inflated"]) == sorted(pages)
    assert st["host_inflate_msgs"] == 1
    assert st["events"] == {"balloon_inflate": 3, "balloon_deflate": 0, "balloon_migrate": 0}
    for pfn in pages:
        page = k.state.page(pfn)
        assert "balloon" in page["flags"]
        assert page["movable"] and page["mapping"] == "balloon-kvm"
        assert page["owner"] == "balloon"
        assert page["refcount"] == 1
    assert k.state.stats["nr_balloon_pages"] == 3
    assert core.balloon_check(k.state) == []

    assert k.call("balloon_leak", 2) == 2
    st = core.balloon_state(k.state)
    assert st["pages"] == [pages[2]]  # the newest pages leave first
    assert st["host_inflated"] == [pages[2]]
    assert k.state.page(pages[0])["refcount"] == 0
    assert k.call("balloon_pages") == 1
    assert k.call("balloon_dequeue") == pages[2]
    assert k.call("balloon_dequeue") == -1
    assert k.call("balloon_leak", 4) == 0
    assert k.state.stats["nr_free_pages"] == PAGES
    assert core.balloon_check(k.state) == []


@pytest.mark.parametrize("preset", ["v4.9", "v4.14"])
def test_leak_balloon_frees_its_pages_off_a_page_list_since_195a8c43e93d(preset):
    import pagesim as ps

    @ps.scenario(kernel=preset, cpus=1, pages=512)
    def deflate(k):
        b = k.balloon()
        b.fill(2)
        return ps.script(k.cpu(0).run(b.leak, 2, name="deflate"))

    for flipped in (False, True):  # the preset as it is, then with the fix flipped
        via_list = (preset == "v4.14") != flipped
        run = deflate.run(fixes={"195a8c43e93d": via_list} if flipped else {})
        assert run.ok, run.report()
        ops = [(e["func"], e["op"]) for e in run.trace() if e.get("obj") == "list pages"]
        # leak_balloon links each dequeued page on its local list; release_pages_balloon
        # unlinks and frees them. Before 4.13 it freed them by their pfns.
        assert ops == ([("leak_balloon", "list_add")] * 2 + [("release_pages_balloon", "list_del")] * 2
                       if via_list else []), (preset, flipped, ops)


def inflate_ops(preset: str, fixes: dict[str, bool] | None = None) -> list[tuple[str, str]]:
    """(op, object) of the lock and allocation steps one fill_balloon(1) takes, in order."""
    import pagesim as ps

    @ps.scenario(kernel=preset, cpus=1, pages=512)
    def inflate(k):
        return ps.script(k.cpu(0).run(k.balloon().fill, 1, name="inflate"))

    run = inflate.run(fixes=fixes or {})
    assert run.ok, run.report()
    wanted = {"balloon_lock", "pages_lock", "page pfn 0"}
    return [(e["op"], e["obj"].split()[-1] if "pfn" not in e["obj"] else e["obj"])
            for e in run.trace()
            if e.get("op") in ("lock", "spin_lock", "test_and_set", "write")
            and any(w in e.get("obj", "") for w in wanted)
            and not (e["op"] == "write" and e.get("func") != "get_page_from_freelist")]


def test_fill_balloon_allocates_before_balloon_lock_since_c7cdff0e8647():
    # 4.14: balloon_page_enqueue allocates under balloon_lock (pfn 0 is the page it gets).
    assert inflate_ops("v4.14")[:2] == [("lock", "balloon_lock"), ("write", "page pfn 0")]
    # 4.19: the allocation comes first, then balloon_lock.
    assert inflate_ops("v4.19")[:2] == [("write", "page pfn 0"), ("lock", "balloon_lock")]
    assert inflate_ops("v4.19", {"c7cdff0e8647": False}) == inflate_ops("v4.14")


def test_balloon_page_enqueue_takes_pages_lock_before_the_page_lock_since_418a3ab1e778():
    def enqueue(preset, fixes=None):
        return [o for o in inflate_ops(preset, fixes) if o[0] in ("spin_lock", "test_and_set")]

    assert enqueue("v4.19") == [("test_and_set", "page pfn 0"), ("spin_lock", "pages_lock")]
    assert enqueue("v5.4") == [("spin_lock", "pages_lock"), ("test_and_set", "page pfn 0")]
    with pytest.raises(core.UsageError, match="^fix '418a3ab1e778' needs fix 'c7cdff0e8647'"):
        inflate_ops("v5.4", {"c7cdff0e8647": False})


def test_misuse_raises_clear_errors():
    k = core.Kernel(pages=PAGES)
    st = core.balloon_state(k.state)
    assert not st["present"] and st["pages"] == []
    with pytest.raises(core.UsageError, match="balloon_init first"):
        k.call("balloon_fill", 1)
    with pytest.raises(core.UsageError, match="balloon_init first"):
        k.call("balloon_dequeue")
    k.call("balloon_init")
    with pytest.raises(core.UsageError, match="exists already"):
        k.call("balloon_init")
    with pytest.raises(core.UsageError, match=">= 0"):
        k.call("balloon_fill", -1)
    with pytest.raises(core.UsageError, match="takes 1 argument"):
        k.call("balloon_leak")


@pytest.mark.parametrize("preset", ["v4.8", "v4.7"])  # 4.7: the balloon's own hooks
def test_compaction_migrates_a_balloon_page(preset):
    k = balloon_kernel(2, preset=preset)
    old = core.balloon_state(k.state)["pages"]
    assert k.call("compact_page", old[1]) == 0
    st = core.balloon_state(k.state)
    new = st["pages"][0]
    assert new not in old and st["pages"][1] == old[0]
    assert sorted(st["host_inflated"]) == sorted([old[0], new])
    assert st["events"]["balloon_migrate"] == 1
    assert st["num_pages"] == 2
    assert k.state.page(old[1])["refcount"] == 0
    assert core.balloon_check(k.state) == []


def test_migration_against_deflation_in_a_run_is_consistent():
    k = balloon_kernel(2)
    B = core.balloon_state(k.state)["pages"][0]
    k.spawn(0, "compact_page", B)
    k.spawn(1, "balloon_leak", 1)
    for seed in range(30):
        run = k.run(strategy="random", seed=seed)
        assert run.ok, [o.report for o in run.outcomes]
        st = core.balloon_state(run.kernel)
        assert st["num_pages"] == 1 and st["isolated_pages"] == 0
        assert core.balloon_check(run.kernel) == []


# ---- scenario 4: the dequeue walk without pages_lock ----


def scenario4(fixes: dict[str, bool]) -> core.RunResult:
    k = balloon_kernel(2, fixes=fixes)
    B = core.balloon_state(k.state)["pages"][0]  # the walk's first cursor
    k.spawn(0, "compact_page", B)
    k.spawn(1, "balloon_leak", 1)
    script = [
        # the walk holds B and is about to read B->lru.next
        (1, "before", "balloon_page_dequeue", core.page_obj(B), 0),
        # compaction isolates B: balloon_page_isolate's list_del poisons B->lru
        (0, "before", "balloon_page_isolate", DEV, 0),
        (1, "done", None, None, 0),
        (0, "done", None, None, 0),
    ]
    return k.run(script=script)


def test_scenario4_without_the_fix_oopses_on_list_poison():
    run = scenario4(NO_FIX)
    assert keys(run) == ["oops:balloon_page_dequeue"]
    oops = run.outcomes[0]
    assert oops.message == POISON
    assert oops.task == "balloon_leak"
    assert oops.backtrace[:2] == ["balloon_page_dequeue", "leak_balloon"]


def test_scenario4_with_the_fix_is_clean():
    run = scenario4({})
    assert run.ok, [o.report for o in run.outcomes]
    st = core.balloon_state(run.kernel)
    assert st["num_pages"] == 1
    assert st["events"]["balloon_migrate"] == 1
    assert core.balloon_check(run.kernel) == []


def test_scenario4_random_schedules():
    """Random schedules reach the race without the fix (rarely: a few in a thousand); with
    the fix none oopses."""

    def outcomes(fixes: dict[str, bool]) -> set[str]:
        k = balloon_kernel(2, fixes=fixes)
        B = core.balloon_state(k.state)["pages"][0]
        k.spawn(0, "compact_page", B)
        k.spawn(1, "balloon_leak", 1)
        seen: set[str] = set()
        for seed in range(3000):
            run = k.run(strategy="random", seed=seed)
            seen |= {f"{o.key}: {o.message}" for o in run.outcomes} or {"ok"}
        return seen

    buggy = outcomes(NO_FIX)
    assert "ok" in buggy
    assert any(s.startswith("oops:balloon_page_dequeue") for s in buggy), buggy
    assert outcomes({}) == {"ok"}


# ---- the movable test driver ----


def test_test_driver_migration_moves_content_and_bookkeeping():
    k = core.Kernel(pages=PAGES)
    first = k.call("test_driver_alloc", 2)
    pages = core.test_driver_pages(k.state)
    assert pages[0] == first and len(pages) == 2
    token = k.call("test_driver_write", first)
    k.spawn(0, "compact_page", first)
    run = k.run()
    assert run.ok, [o.report for o in run.outcomes]
    st = core.test_driver_state(run.kernel)
    new = st["pages"][0]
    assert new != first
    assert run.kernel.page(new)["content"] == token
    assert st["objects"][0] == {"pfn": new, "content": token}
    assert st["calls"] == {"isolate_page": 1, "migratepage": 1, "putback_page": 0}
    assert st["migrated"] == 1 and st["nr_isolated"] == 0
    assert run.kernel.page(first)["refcount"] == 0
    assert core.test_driver_check(run.kernel) == []


def test_test_driver_busy_and_errors():
    k = core.Kernel(pages=PAGES)
    p = k.call("test_driver_alloc", 1)
    assert k.call("test_driver_set", OPT["busy"], 1) == 0
    assert k.call("compact_page", p) == 1
    st = core.test_driver_state(k.state)
    assert st["calls"]["migratepage"] == 10  # -EAGAIN: retried for 10 passes
    assert st["calls"]["putback_page"] == 1
    assert st["pages"] == [p]
    assert k.call("test_driver_set", OPT["busy"], 0) == 1
    with pytest.raises(core.UsageError, match="unknown option"):
        k.call("test_driver_set", 42, 1)
    with pytest.raises(core.UsageError, match="from 0 to 1"):
        k.call("test_driver_set", OPT["busy"], 7)
    with pytest.raises(core.UsageError, match="not a test driver page"):
        k.call("test_driver_release", p + 1)
    with pytest.raises(core.UsageError, match="between 1 and"):
        k.call("test_driver_alloc", 0)


def test_test_driver_released_while_isolated_takes_the_vm_path():
    k = core.Kernel(pages=PAGES)
    p = k.call("test_driver_alloc", 1)
    k.spawn(0, "compact_page", p)
    k.spawn(1, "test_driver_release", p)
    # compaction has isolated the page and is about to allocate the target page
    run = k.run(
        script=[
            (0, "before", "alloc_pages", None, 0),
            (1, "done", None, None, 0),
            (0, "done", None, None, 0),
        ]
    )
    assert run.ok, [o.report for o in run.outcomes]
    st = core.test_driver_state(run.kernel)
    assert st["calls"] == {"isolate_page": 1, "migratepage": 0, "putback_page": 0}
    assert st["pages"] == [] and st["released"] == 1
    assert run.kernel.stats["nr_free_pages"] == PAGES


def test_test_driver_setting_pg_isolated_is_warned():
    k = core.Kernel(pages=PAGES)
    p = k.call("test_driver_alloc", 1)
    k.call("test_driver_set", OPT["set_pg_isolated"], 1)
    k.spawn(0, "compact_page", p)
    run = k.run()
    assert keys(run) == ["warn:isolate_movable_page"]


def test_pte_mapped_driver_page_keeps_the_old_page_mapped_in_4_8():
    k = core.Kernel(pages=PAGES)
    pid = k.process("app")
    p = k.call("test_driver_alloc", 1)
    assert k.call("test_driver_mmap", p, pid) == 0
    assert k.state.page(p)["mapcount"] == 1 and k.state.page(p)["refcount"] == 2
    k.spawn(0, "compact_page", p)
    run = k.run()
    # No try_to_unmap for non-LRU pages: the process still maps the old page.
    assert keys(run) == ["invariant:test_driver_check"]
    assert "stale mapping" in run.outcomes[0].message
    new = core.test_driver_state(run.kernel)["pages"][0]
    assert run.kernel.process_pages(pid) == [p]
    assert new != p
    assert run.kernel.page(p)["refcount"] == 1  # the pte's reference keeps it allocated


def test_raw_pfn_mapping_becomes_a_use_after_free():
    k = core.Kernel(pages=PAGES)
    pid = k.process("app")
    p = k.call("test_driver_alloc", 1)
    k.call("test_driver_set", OPT["mmap_no_ref"], 1)
    k.call("test_driver_mmap", p, pid)
    k.spawn(0, "compact_page", p)
    run = k.run()
    assert keys(run) == ["invariant:test_driver_check"]
    assert "use-after-free" in run.outcomes[0].message
    assert run.kernel.page(p)["refcount"] == 0
    assert run.kernel.corrupt_pages(pid) == 1
