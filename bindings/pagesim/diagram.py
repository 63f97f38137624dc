"""LKML-style diagrams of a run: one column per CPU, one line per model function entered,
in the order things happened, with the outcome where it struck."""

from __future__ import annotations

from typing import Any


def render_diagram(result: Any, depth: int = 3, width: int = 34) -> str:
    """Render a run (a pagesim RunResult with its trace) as CPU columns.

    Each line is a model function a task entered (indented by call depth, up to `depth`
    levels), placed in its CPU's column; outcomes appear under the function they hit."""
    trace = result.trace()
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
            t = text if len(text) <= width - 1 else text[: width - 2] + "~"
            parts[col[c]] = t
        return "".join(p.ljust(width) for p in parts).rstrip()

    lines = [
        row({c: f"CPU{c}: " + ", ".join(tasks[c]) for c in cpus}),
        row({c: "-" * (width - 2) for c in cpus}),
    ]
    level: dict[tuple[int, str], int] = {}
    pending = sorted(result.outcomes, key=lambda o: o.step)
    meta: list[tuple[int, int]] = [(-1, -1), (-1, -1)]  # (cpu, depth) of each line
    # A function entered again right after its previous call (at the same depth, with only
    # its own callees in between) is counted on one line: "put_page (x512)".
    repeat: dict[tuple[int, int], list[Any]] = {}  # (cpu, depth) -> [func, line, count]
    hidden: dict[int, int] = {}  # cpu -> depth below which lines are folded

    def emit(cpu: int, d: int, text: str) -> None:
        lines.append(row({cpu: text}))
        meta.append((cpu, d))

    def outcome_lines(upto: float) -> None:
        while pending and pending[0].step < upto:
            o = pending.pop(0)
            where = o.cpu if o.cpu in col else cpus[0]
            emit(where, -1, f"=> {o.kind}: {o.message.splitlines()[0]}")
            if o.kind == "deadlock":
                for d in o.details:
                    lines.append("   " + d)
                    meta.append((-1, -1))

    def enter(cpu: int, d: int, func: str) -> None:
        if d >= depth or (cpu in hidden and d > hidden[cpu]):
            return
        hidden.pop(cpu, None)
        r = repeat.get((cpu, d))
        if r and r[0] == func and all(c == cpu and dd > d for c, dd in meta[r[1] + 1 :]):
            r[2] += 1
            lines[r[1]] = row({cpu: "  " * d + f"{func} (x{r[2]})"})
            hidden[cpu] = d
            return
        emit(cpu, d, "  " * d + func)
        repeat[(cpu, d)] = [func, len(lines) - 1, 1]

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
    outcome_lines(float("inf"))
    return "\n".join(lines)
