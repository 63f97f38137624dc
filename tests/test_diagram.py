"""The LKML-style diagram: CPU columns that wrap instead of cutting text, and a line for
each operation on the objects that matter, like the diagrams in race reports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(__file__))
sys.path.insert(0, os.path.join(ROOT, "scenarios"))
import zs_free_double_isolation

SC = zs_free_double_isolation.zs_free_double_isolation


def column(diagram: str, cpu: int, width: int = 34) -> list[str]:
    """The lines of one CPU's column, stripped, in order (below the header rule)."""
    lines = diagram.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    cells = [line[cpu * width:(cpu + 1) * width].strip() for line in lines[rule + 1:]]
    return [c for c in cells if c]


def test_the_reported_race_reads_like_its_lkml_diagram() -> None:
    run = SC.run()
    assert run.watched == ["page pfn 1"]  # T: the script's breakpoints name it
    d = run.diagram()
    a, b, c = column(d, 0), column(d, 1), column(d, 2)
    # A isolates T under its page lock; C's zs_free resets T; B then isolates T again.
    assert a[a.index("trylock_page(pfn 1)"):][:3] == [
        "trylock_page(pfn 1)", "SetPageIsolated(pfn 1)", "unlock_page(pfn 1)"]
    assert "ClearPageIsolated(pfn 1)" in c
    assert c.index("ClearPageIsolated(pfn 1)") > c.index("reset_page")
    assert b[b.index("trylock_page(pfn 1)") + 1].startswith("=> oops:")


def test_nothing_is_cut_long_lines_wrap_within_their_column() -> None:
    run = SC.run()
    for width in (20, 34, 60):
        d = run.diagram(width=width)
        assert "~" not in d
        assert all(len(line) <= 3 * width for line in d.splitlines())
        text = " ".join(" ".join(column(d, 1, width)).split())
        assert "unable to handle kernel NULL pointer dereference at 0000000000000000" in text


def test_objects_choose_what_to_show() -> None:
    run = SC.run(kernel="v4.8")
    assert "ClearPageIsolated" in run.diagram() or "SetPageIsolated" in run.diagram()
    assert "(pfn 1)" not in run.diagram(objects=[])
    assert "trylock_page(pfn 1)" in run.diagram(objects=[1])
    with pytest.raises(Exception, match="pfn must be an int"):
        run.diagram(objects=[-1])


def test_cli_depth_and_width() -> None:
    target = os.path.join(ROOT, "scenarios", "zs_free_double_isolation.py")
    out = subprocess.run([sys.executable, "-m", "pagesim.cli", "run",
                          target + "::zs_free_double_isolation", "--diagram", "--depth", "1",
                          "--width", "50"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 1, out.stderr
    diagram = out.stdout[out.stdout.index("CPU0: "):]
    assert "isolate_migratepages_block" not in diagram  # depth 1: entry points only
    assert "compact_range" in diagram and "trylock_page(pfn 1)" in diagram
    assert diagram.index("CPU1: ") == 50
