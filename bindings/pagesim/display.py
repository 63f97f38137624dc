"""Rich display in Jupyter: HTML (with an SVG page map) for runs, explorations, the kernel
state, page histories, minimised failures, schedules and outcomes. A notebook shows an
object's `_repr_html_` when it is a cell's last value; terminals keep the text reprs."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from .names import fix_flips

# page_map()'s owner codes (mm::Owner), and the colour of each in the page map.
OWNERS = ["none", "reserved", "process", "zsmalloc", "balloon", "test_driver", "migration",
          "kernel"]
COLOURS = {
    "free": "#e6e6e6", "none": "#9e9e9e", "reserved": "#555555", "process": "#4e79a7",
    "zsmalloc": "#f28e2b", "balloon": "#b07aa1", "test_driver": "#59a14f",
    "migration": "#edc948", "kernel": "#76b7b2",
}
ISOLATED, LOCKED = "#d62728", "#000000"  # cell outlines
MAX_CELLS = 4096  # larger machines draw one cell per group of pfns
CELL = 9  # pixels
COLUMNS = 64

_STYLE = ("font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; "
          "line-height: 1.3; white-space: pre; overflow-x: auto; margin: 4px 0")


def _pre(text: str) -> str:
    return f'<pre style="{_STYLE}">{escape(text)}</pre>'


def _badge(key: str, count: int | None = None) -> str:
    colour = "#2ca02c" if key == "ok" else "#d62728"
    label = escape(key) + (f" &times;{count:,}" if count and count > 1 else "")
    return (f'<span style="background:{colour}; color:white; border-radius:3px; '
            f'padding:1px 5px; margin-right:4px; font-family:monospace">{label}</span>')


def _title(scenario: Any, preset: str, fixes: dict[str, bool]) -> str:
    flips = ", ".join(fix_flips(fixes))
    return (f"<b>{escape(scenario.name)}</b> <code>[{escape(preset)}]</code>"
            + (f" <code>{escape(flips)}</code>" if flips else ""))


def _section(summary: str, body: str, open_: bool = True) -> str:
    return (f"<details{' open' if open_ else ''}><summary>{escape(summary)}</summary>"
            f"{body}</details>")


def run_html(run: Any) -> str:
    """A run: its outcomes, the kernel-style report, the LKML-style diagram, the replay."""
    badges = "".join(_badge(k, n) for k, n in run.outcome_counts.items())
    parts = [(f"<div>{_title(run.scenario, run.preset, run.fixes)} {badges}"
             f"<span style='color:#666'>{run.steps:,} steps, trace hash "
             f"{run.trace_hash:016x}</span></div>")]
    if not run.ok or run.unmatched_steps:
        parts.append(_section("report", _pre(run.report())))
    parts.append(_section("diagram", _pre(run.diagram(width=48))))
    parts.append(f"<div><code>{escape(run.replay_command())}</code></div>")
    return "".join(parts)


def exploration_html(ex: Any) -> str:
    """An exploration: its scope, the outcome table with bars, the first failure drawn."""
    rows = []
    total = max(ex.executions, 1)
    for key, n in sorted(ex.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
        width = max(1.0, 100.0 * n / total)
        colour = "#2ca02c" if key == "ok" else "#d62728"
        first = ex.found.outcomes[key].first_run
        rows.append(
            f"<tr><td style='text-align:left'><code>{escape(key)}</code></td>"
            f"<td style='text-align:right'>{n:,}</td>"
            f"<td style='width:240px'><div style='background:{colour}; height:10px; "
            f"width:{width:.1f}%'></div></td>"
            f"<td style='text-align:right; color:#666'>{first:,}</td></tr>")
    table = ("<table><tr><th style='text-align:left'>outcome</th><th>executions</th><th></th>"
             "<th>first seen at</th></tr>" + "".join(rows) + "</table>")
    parts = [(f"<div>{_title(ex.scenario, ex.preset, ex.fixes)} "
             f"<span style='color:#666'>{escape(ex.scope)}; {ex.rate:,.0f} executions/s"
             f"</span></div>"), table]
    first = ex.found.first_failing()
    if first is not None:
        f = ex.first_failure
        what = (f"first failure {f.key}: minimised to {_preemptions(f.preemptions)}, "
                f"{f.steps} steps" if f is not None else f"first failure {first.key}")
        run = ex.replay()
        parts.append(_section(what, _pre(run.report()) + _pre(run.diagram(width=48))))
        parts.append(f"<div><code>{escape(ex.replay_command())}</code></div>")
    return "".join(parts)


def _cells(page_map: bytes) -> tuple[list[tuple[str, bool, bool]], int]:
    """The page map's cells (colour key, isolated, locked) and pfns per cell: a cell of
    several pfns takes its most common state, and is outlined if any page is."""
    per = max(1, -(-len(page_map) // MAX_CELLS))
    cells = []
    for start in range(0, len(page_map), per):
        chunk = page_map[start:start + per]
        keys = Counter("free" if b & 0x10 else OWNERS[b & 0x0F] for b in chunk)
        cells.append((keys.most_common(1)[0][0], any(b & 0x20 for b in chunk),
                      any(b & 0x40 for b in chunk)))
    return cells, per


def _page_map_svg(cells: list[tuple[str, bool, bool]], per: int) -> str:
    """One cell per pfn (or per group of `per` pfns on a large machine), coloured by owner,
    free pages light; a red outline for an isolated page, black for a locked one."""
    rows = -(-len(cells) // COLUMNS)
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{COLUMNS * CELL + 1}" '
           f'height="{rows * CELL + 1}" style="background:white">')]
    for i, (key, isolated, locked) in enumerate(cells):
        x, y = (i % COLUMNS) * CELL, (i // COLUMNS) * CELL
        pfn = i * per
        label = f"pfn {pfn}" if per == 1 else f"pfns {pfn}-{pfn + per - 1}"
        state_ = key + (", isolated" if isolated else "") + (", locked" if locked else "")
        stroke = ISOLATED if isolated else LOCKED if locked else "white"
        out.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" '
                   f'fill="{COLOURS[key]}" stroke="{stroke}" stroke-width="1">'
                   f'<title>{label}: {state_}</title></rect>')
    out.append("</svg>")
    return "".join(out)


def kernel_state_html(state: Any) -> str:
    """The page map beside /proc/buddyinfo and the zone counters."""
    cells, per = _cells(state.page_map())
    seen = {key for key, _, _ in cells}
    legend = "".join(
        f"<span style='display:inline-block; width:10px; height:10px; background:{c}; "
        f"margin:0 3px 0 8px'></span>{escape(k)}" for k, c in COLOURS.items() if k in seen)
    legend += (f"<span style='display:inline-block; width:8px; height:8px; border:1px solid "
               f"{ISOLATED}; margin:0 3px 0 8px'></span>isolated"
               f"<span style='display:inline-block; width:8px; height:8px; border:1px solid "
               f"{LOCKED}; margin:0 3px 0 8px'></span>locked")
    zones = []
    for i, z in enumerate(state.zones()):
        blocks = state.free_blocks(i)
        head = "".join(f"<th>{o}</th>" for o in range(len(blocks)))
        counts = "".join(f"<td style='text-align:right'>{n}</td>" for n in blocks)
        zones.append(
            f"<div><b>{escape(z['name'])}</b>: pfns {z['start_pfn']}-"
            f"{z['start_pfn'] + z['pages'] - 1}, {z['free_pages']} free, watermarks "
            f"{'/'.join(str(w) for w in z['watermark'])}</div>"
            f"<table><tr><th>order</th>{head}</tr><tr><td>free blocks</td>{counts}</tr>"
            "</table>")
    note = "" if per == 1 else f" (one cell per {per} pfns: their most common state)"
    return (f"<div><b>Kernel state</b> <code>[{escape(state.preset)}]</code>: "
            f"{state.nr_pages:,} pages{note}</div><div>{legend}</div>"
            f"<div style='display:flex; gap:16px; align-items:flex-start'>"
            f"<div>{_page_map_svg(cells, per)}</div><div>{''.join(zones)}</div></div>")


HISTORY_COLUMNS = ["step", "t", "cpu", "task", "func", "op", "rw", "obj", "line"]


def history_html(rows: list[dict[str, Any]]) -> str:
    """Operations as a table, in order (Run.page_history)."""
    head = "".join(f"<th>{c}</th>" for c in HISTORY_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td><code>{escape(str(r.get(c, '')))}</code></td>"
                         for c in HISTORY_COLUMNS) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _preemptions(n: int) -> str:
    return f"{n} preemption{'' if n == 1 else 's'}"


def minimised_text(m: Any) -> str:
    return (f"<Minimised {m.key}: {_preemptions(m.preemptions)}, {m.steps} steps, "
            f"schedule {str(m.schedule)!r}>")


def minimised_html(m: Any) -> str:
    return (f"<div>{_badge(m.key)} minimised to {_preemptions(m.preemptions)}, {m.steps} "
            f"steps: <code>{escape(str(m.schedule))}</code></div>")


def schedule_html(s: Any) -> str:
    meta = "".join(f"<tr><td>{escape(k)}</td><td><code>{escape(str(v))}</code></td></tr>"
                   for k, v in sorted(s.meta.items()) if v)
    return (f"<div>schedule <code>{escape(str(s))}</code> ({len(s.choices):,} choices)</div>"
            + (f"<table>{meta}</table>" if meta else ""))


def outcome_html(o: Any) -> str:
    return f"<div>{_badge(o.key)}</div>{_pre(o.report)}"


def install(core: Any) -> None:
    """Give the core's result types their notebook displays (and Minimised a text repr)."""
    core.KernelState._repr_html_ = kernel_state_html
    core.Minimised.__repr__ = minimised_text
    core.Minimised._repr_html_ = minimised_html
    core.Schedule._repr_html_ = schedule_html
    core.Outcome._repr_html_ = outcome_html
