"""LKML-style diagrams of a run: one column per CPU, one line per model function entered,
in the order things happened, with the outcome where it struck."""

from __future__ import annotations

import textwrap
from typing import Any

# Operations an object line shows: what changes the object or takes it (its tests, reads
# and refcounts are left to the function lines around them); the kernel's helpers for a
# page flag's operations.
SHOWN_OPS = {"bit_set", "bit_clear", "test_and_set", "spin_lock", "spin_unlock",
             "spin_trylock", "lock", "unlock", "trylock", "read_lock", "read_unlock",
             "write_lock", "write_unlock", "list_add", "list_del"}
PAGE_FLAG_OPS = {"bit_set": "SetPage", "bit_clear": "ClearPage", "test_and_set": "TestSetPage"}
PAGE_LOCK_OPS = {"test_and_set": "trylock_page", "bit_clear": "unlock_page"}


def op_text(e: dict[str, Any]) -> str:
    """An operation as a kernel developer writes it: ClearPageIsolated(pfn 7),
    trylock_page(pfn 7), spin_lock(pool->lock (pool 0)), test_and_set(handle 3 (pool 0),
    bit 0)."""
    obj, bit = e["obj"], e.get("bit")
    if obj.startswith("page pfn ") and bit == "locked" and e["op"] in PAGE_LOCK_OPS:
        return f"{PAGE_LOCK_OPS[e['op']]}({obj[5:]})"
    if obj.startswith("page pfn ") and bit and e["op"] in PAGE_FLAG_OPS:
        flag = "".join(w.capitalize() for w in bit.split("_"))
        return f"{PAGE_FLAG_OPS[e['op']]}{flag}({obj[5:]})"
    return f"{e['op']}({obj}{', ' + bit if bit else ''})"


def render_diagram(result: Any, depth: int = 3, width: int = 34,
                   objects: list[str] | tuple[str, ...] = ()) -> str:
    """Render a run (a pagesim RunResult with its trace) as CPU columns.

    Each line is a model function a task entered (indented by call depth, up to `depth`
    levels), placed in its CPU's column, and each operation on one of `objects` (labels
    such as "page pfn 7"), at any depth; outcomes appear under the function they hit.
    Text longer than a column wraps."""
    trace = result.trace()
    watched = set(objects)
    if not trace:
        return "(no trace: run with trace=True to draw a diagram)"
    cpus = sorted({e["cpu"] for e in trace})
    col = {c: i for i, c in enumerate(cpus)}
    # Column headers: the tasks each CPU ran.
    tasks: dict[int, list[str]] = {c: [] for c in cpus}
    for e in trace:
        if e["task"] not in tasks[e["cpu"]] and not e["task"].startswith("kworker"):
            tasks[e["cpu"]].append(e["task"])
    for e in trace:
        if e["task"] not in tasks[e["cpu"]]:
            tasks[e["cpu"]].append(e["task"])

    def row(cells: dict[int, str]) -> str:
        parts = [""] * len(cpus)
        for c, text in cells.items():
            parts[col[c]] = text
        return "".join(p.ljust(width) for p in parts).rstrip()

    def rows(cells: dict[int, str]) -> list[str]:
        """The cells wrapped to the column width: as many lines as the longest needs."""
        wrapped = {c: wrap(text, width - 1) for c, text in cells.items()}
        height = max((len(w) for w in wrapped.values()), default=1)
        return [row({c: w[i] for c, w in wrapped.items() if i < len(w)}) for i in range(height)]

    lines = [
        *rows({c: f"CPU{c}: " + ", ".join(tasks[c]) for c in cpus}),
        row({c: "-" * (width - 2) for c in cpus}),
    ]
    level: dict[tuple[int, str], int] = {}
    pending = sorted(result.outcomes, key=lambda o: o.step)
    meta: list[tuple[int, int]] = [(-1, -1), (-1, -1)]  # (cpu, depth) of each line
    repeat: dict[tuple[int, int], list[Any]] = {}  # (cpu, depth) -> [func, line, count]
    hidden: dict[int, int] = {}  # cpu -> depth below which lines are folded

    def emit(cpu: int, d: int, text: str) -> None:
        for line in rows({cpu: text}):
            lines.append(line)
            meta.append((cpu, d))

    def outcome_lines(upto: float) -> None:
        while pending and pending[0].step < upto:
            o = pending.pop(0)
            where = o.cpu if o.cpu in col else cpus[0]
            at = f" at {o.at[0]}:{o.at[1]}" if o.at else ""  # a BUG's line in the kernel
            emit(where, -1, f"=> {o.kind}{at}: {o.message.splitlines()[0]}")
            if o.kind in ("deadlock", "hang"):
                for d in o.details:
                    lines.append("   " + d)
                    meta.append((-1, -1))

    def line(cpu: int, d: int, text: str) -> None:
        """A function entered or an operation, at depth d of its CPU's column. The same
        text again right after (at the same depth, with only deeper lines in between) is
        counted on one line: "put_page (x512)"."""
        if cpu in hidden and d > hidden[cpu]:
            return
        hidden.pop(cpu, None)
        r = repeat.get((cpu, d))
        if r and r[0] == text and all(c == cpu and dd > d for c, dd in meta[r[1] + 1 :]):
            r[2] += 1
            counted = rows({cpu: "  " * d + f"{text} (x{r[2]})"})
            if len(counted) == 1:  # the count fits where the line was
                lines[r[1]] = counted[0]
                hidden[cpu] = d
                return
        emit(cpu, d, "  " * d + text)
        repeat[(cpu, d)] = [text, len(lines) - 1, 1]

    def enter(cpu: int, d: int, func: str) -> None:
        if d < depth:
            line(cpu, d, func)

    # A function shows when its task performs its first operation in it (entering is
    # invisible local work, which may happen long before, e.g. when a task starts).
    waiting: dict[tuple[int, str], list[tuple[int, str]]] = {}

    def flush(key: tuple[int, str]) -> None:
        for d, func in waiting.pop(key, []):
            enter(key[0], d, func)

    for e in trace:
        outcome_lines(e["step"])
        key = (e["cpu"], e["task"])
        if e["kind"] == "enter":
            d = level.get(key, 0)
            level[key] = d + 1
            waiting.setdefault(key, []).append((d, e["func"]))
        elif e["kind"] == "exit":
            flush(key)
            level[key] = max(0, level.get(key, 0) - 1)
        else:
            flush(key)
            if e.get("obj") in watched and e["op"] in SHOWN_OPS:
                line(e["cpu"], min(level.get(key, 0), depth), op_text(e))
    outcome_lines(float("inf"))
    return "\n".join(lines)


def wrap(text: str, width: int) -> list[str]:
    """Text in lines of at most `width` characters, broken at spaces (a word longer than a
    line is split to fill it); continuation lines are indented under the first's text."""
    if len(text) <= width:
        return [text]
    lead = len(text) - len(text.lstrip())
    indent = " " * min(lead + 2, width // 2)
    return textwrap.wrap(text.lstrip(), width, initial_indent=" " * lead, subsequent_indent=indent,
                         break_on_hyphens=False) or [text[:width]]
