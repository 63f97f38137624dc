"""A BUG or WARN report names the kernel's own line and text: "kernel BUG at
mm/filemap.c:866!" in the tree the preset follows, with the tree's line of code, not the
model's C++. The table of lines (core/kernel/bug_lines.inc) is written by
scripts/bug_lines.py from the stored kernel trees; these tests hold it to every site of
the model and, where the trees are on this machine, to the trees themselves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict

import pagesim as ps
import pytest
from pagesim import _core

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "scenarios_fixture"))
import mm_races

TABLE = os.path.join(ROOT, "core", "kernel", "bug_lines.inc")
MODEL_ONLY = "core/drivers/test_driver.cpp"
ROW = re.compile(r'^    \{"([^"]+)", "([^"]+)", "((?:[^"\\]|\\.)*)", (\d+), "([^"]*)", (\d+), ')
# Checks no released kernel had, so no stored tree has them and their reports name the
# function: the v3 series' (zsmalloc's zspage freeze and page locks, drivers owning
# PG_isolated), and 5.1-rc's WARN on a captured page (removed before 5.1 by "always use a
# captured page regardless of compaction result").
UNRELEASED = {
    ("__alloc_pages_direct_compact", "WARN_ON_ONCE(page)"),
    ("init_zspage", "BUG_ON(!trylock_page(page))"),
    ("isolate_movable_page", "WARN_ON_ONCE(!PageIsolated(page))"),
    ("move_to_new_page", "WARN_ON_ONCE(rc == MIGRATEPAGE_SUCCESS && PageIsolated(page))"),
    ("putback_movable_page", "WARN_ON_ONCE(PageIsolated(page))"),
    ("unfreeze_zspage", "VM_BUG_ON(!testpin_tag(handle))"),
    ("unlock_zspage", "VM_BUG_ON_PAGE(!PageLocked(cursor))"),
    ("zs_page_isolate", "VM_BUG_ON_PAGE(!PageLocked(page))"),
    ("zs_page_migrate", "VM_BUG_ON(get_fullness_group(class, zspage) == ZS_EMPTY)"),
}


def rows() -> dict[tuple[str, str, str, int], tuple[str, int]]:
    out = {}
    with open(TABLE) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                out[m[1], m[2], m[3].replace('\\"', '"'), int(m[4])] = (m[5], int(m[6]))
    return out


def kernel_sites() -> list[tuple[str, str, int]]:
    """(function, text, ordinal) of every site with kernel source, as the table counts."""
    groups = defaultdict(list)
    for s in _core.bug_sites():
        if s["model_file"] != MODEL_ONLY:
            groups[s["function"], s["text"]].append(s)
    return [(fn, text, n) for (fn, text), group in groups.items() for n in range(len(group))]


def trees() -> set[str]:
    return {p["follows"].split(" at ")[0] for p in _core.presets()
            if not p["user"] and re.match(r"^[\w.-]+/[\w.-]+ at [0-9a-f]+", p["follows"])}


def test_the_table_places_every_site_in_every_tree():
    table, missing = rows(), []
    assert len(trees()) == 11  # every built-in preset but movable-v3, a patch series
    for tree in trees():
        missing += [(tree, *s) for s in kernel_sites() if (tree, *s) not in table]
    assert not missing, f"run python scripts/bug_lines.py: {missing[:3]}"


def test_every_check_is_in_some_released_kernel():
    table = rows()
    placed = {(fn, text) for (_, fn, text, _), (_, line) in table.items() if line}
    assert {(fn, text) for fn, text, _ in kernel_sites()} - placed == UNRELEASED


def mirrored() -> bool:
    """Whether every preset's tree is in the kernel mirrors (scripts/bug_lines.py's)."""
    mirrors = os.environ.get("PAGESIM_KERNEL_MIRRORS", "/work/.mirror")
    return all(os.path.isdir(os.path.join(mirrors, tree.replace("/", "+"), "repo"))
               for tree in trees())


@pytest.mark.skipif(not mirrored(), reason="the kernel trees are not all on this machine")
def test_the_table_is_what_the_trees_say():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "bug_lines.py"),
                          "--check"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_a_bug_names_the_line_of_the_presets_tree():
    run = mm_races.unlock_unlocked_page.run()
    assert run.bug.message == "VM_BUG_ON_PAGE(!PageLocked(page))"
    assert run.bug.at == ("mm/filemap.c", 866, "VM_BUG_ON_PAGE(!PageLocked(page), page);")
    assert run.to_json()["outcome_reports"][0]["at"] == {
        "file": "mm/filemap.c", "line": 866, "code": "VM_BUG_ON_PAGE(!PageLocked(page), page);"}
    lines = run.report().splitlines()
    start = lines.index("------------[ cut here ]------------")
    assert lines[start - 1] == "page dumped because: VM_BUG_ON_PAGE(!PageLocked(page))"
    assert lines[start + 1:start + 5] == [
        "kernel BUG at mm/filemap.c:866!",
        "invalid opcode: 0000 [#1] SMP",
        "CPU: 0 PID: 0 Comm: unlock_page Not tainted v4.8 (pagesim)",
        "RIP: unlock_page  mm/filemap.c:866: VM_BUG_ON_PAGE(!PageLocked(page), page);"]
    # 4.14's filemap.c has it elsewhere; 6.1 unlocks a folio, with other text.
    assert mm_races.unlock_unlocked_page.run(kernel="v4.14").bug.at[:2] == (
        "mm/filemap.c", rows()["hxxful/linux-4.14.0-friendlyarm", "unlock_page",
                               "VM_BUG_ON_PAGE(!PageLocked(page))", 0][1])
    folio = mm_races.unlock_unlocked_page.run(kernel="v6.1")
    assert folio.bug.at is None
    assert "kernel BUG at unlock_page: VM_BUG_ON_PAGE(!PageLocked(page))" in folio.report()


def test_the_test_driver_names_the_models_line():
    # pagesim's own driver has no kernel source: its BUG names the model's line.
    run = ps.load_scenarios(os.path.join(ROOT, "scenarios", "race_without_page_lock.py"))[
        "race_without_page_lock"].explore(strategy="dpor", preemption_bound=2).replay(
        "bug:test_driver_isolate_page")
    with open(os.path.join(ROOT, MODEL_ONLY)) as f:
        line = 1 + next(i for i, text in enumerate(f)
                        if "VM_BUG_ON_PAGE(mm, !PageMovable(mm, page), page);" in text)
    assert run.bug.at == (MODEL_ONLY, line, "VM_BUG_ON_PAGE(!PageMovable(page))")
    assert f"kernel BUG at {MODEL_ONLY}:{line}!" in run.report()


def test_a_warn_names_its_line():
    # A driver that sets PG_isolated itself, which v4 reserves for the VM.
    k = _core.Kernel(pages=1024)
    p = k.call("test_driver_alloc", 1)
    k.call("test_driver_set", _core.TEST_DRIVER_OPTIONS["set_pg_isolated"], 1)
    k.spawn(0, "compact_page", p)
    warn = k.run().outcomes[0]
    assert warn.key == "warn:isolate_movable_page"
    assert warn.at == ("mm/migrate.c", 124, "WARN_ON_ONCE(PageIsolated(page));")
    assert warn.report.splitlines()[:2] == [
        "------------[ cut here ]------------",
        "WARNING: CPU: 0 PID: 0 at mm/migrate.c:124 isolate_movable_page"]


def test_bugs_and_oopses_count_on_one_die_counter():
    @ps.scenario(cpus=2)
    def two_bugs(k):
        k.cpu(0).run("unlock_page", k.alloc_pages(0))
        k.cpu(1).run("unlock_page", k.alloc_pages(0))

    text = two_bugs.run().report()
    assert re.findall(r"invalid opcode: 0000 \[#\d\]", text) == [
        "invalid opcode: 0000 [#1]", "invalid opcode: 0000 [#2]"]
    assert "Comm: unlock_page Tainted: D v4.8 (pagesim)" in text
