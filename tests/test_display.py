"""Rich display for notebooks: each result type's HTML shows what its text shows, and the
page map agrees with struct page, pfn by pfn."""

from __future__ import annotations

import os
import re
import sys
from html import escape

import pagesim as ps
from pagesim import display

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "scenarios"))
import zs_free_double_isolation

SC = zs_free_double_isolation.zs_free_double_isolation


def test_a_run_shows_its_outcome_report_diagram_and_replay() -> None:
    run = SC.run()
    html = run._repr_html_()
    assert "<b>zs_free_double_isolation</b> <code>[movable-v3]</code>" in html
    assert ">oops:zs_page_isolate</span>" in html
    assert "BUG: unable to handle kernel NULL pointer dereference" in html
    assert "CPU0: " in html  # the diagram's header
    assert escape(run.replay_command()) in html
    clean = SC.run(kernel="v4.8")._repr_html_()
    assert ">ok</span>" in clean and "<summary>report</summary>" not in clean


def test_an_exploration_shows_its_scope_outcome_table_and_first_failure() -> None:
    ex = SC.explore(strategy="dpor", preemption_bound=1)
    html = ex._repr_html_()
    assert ex.scope in html
    rows = re.findall(r"<tr><td style='text-align:left'><code>([^<]+)</code></td>"
                      r"<td style='text-align:right'>([\d,]+)</td>", html)
    assert {k: int(n.replace(",", "")) for k, n in rows} == ex.outcomes
    f = ex.first_failure
    assert f"first failure {f.key}: minimised to {f.preemptions} preemption" in html
    assert escape(ex.replay_command()) in html
    assert repr(f) == (f"<Minimised {f.key}: {f.preemptions} preemption"
                       f"{'' if f.preemptions == 1 else 's'}, {f.steps} steps, schedule "
                       f"{str(f.schedule)!r}>")
    assert "minimised to" in f._repr_html_()


def test_the_page_map_agrees_with_struct_page() -> None:
    state = SC.run().kernel
    page_map = state.page_map()
    assert len(page_map) == state.nr_pages
    for pfn, b in enumerate(page_map):
        page = state.page(pfn)
        assert display.OWNERS[b & 0x0F] == page["owner"], pfn
        assert bool(b & 0x10) == (page["owner"] == "none" and page["refcount"] == 0), pfn
        assert bool(b & 0x40) == ("locked" in page["flags"]), pfn
    # B oopsed holding T's (pfn 1) lock.
    assert page_map[1] == 0x40 | display.OWNERS.index("zsmalloc")
    html = state._repr_html_()
    assert html.count("<rect ") == state.nr_pages
    assert "<title>pfn 1: zsmalloc, locked</title>" in html
    blocks = state.free_blocks(0)
    assert "<td>free blocks</td>" + "".join(
        f"<td style='text-align:right'>{n}</td>" for n in blocks) in html


def test_the_page_map_shows_isolated_pages() -> None:
    k = ps.Kernel(pages=1024)
    p = k.call("test_driver_alloc", 2)
    assert k.call("isolate_movable_page", p)
    lru = k.process("app")
    k.fault_in(lru, 1)
    state = k.state
    page_map = state.page_map()
    assert page_map[p] == 0x20 | display.OWNERS.index("test_driver")
    assert page_map[p + 1] == display.OWNERS.index("test_driver")
    assert page_map[state.process_pages(lru)[0]] == display.OWNERS.index("process")
    assert f"<title>pfn {p}: test_driver, isolated</title>" in state._repr_html_()


def test_a_large_machine_draws_groups_of_pfns() -> None:
    k = ps.Kernel(pages=65536)
    k.process("p")
    html = k.state._repr_html_()
    assert html.count("<rect ") == display.MAX_CELLS
    assert "one cell per 16 pfns" in html


def test_histories_schedules_and_outcomes_have_html() -> None:
    run = SC.run()
    history = run.page_history(1)
    assert isinstance(history, list) and history
    assert history._repr_html_().count("<tr>") == len(history) + 1
    assert str(run.schedule) in run.schedule._repr_html_()
    assert run.outcomes[0].report.splitlines()[0] in run.outcomes[0]._repr_html_()
