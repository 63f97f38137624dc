"""Plots with matplotlib (imported when a plot is drawn: pagesim does not need it
otherwise): outcome counts of explorations side by side, fragmentation over simulated
time for a run, and an exploration's progress. Each returns the matplotlib Axes it drew
on; pass `ax=` to draw into a figure of your own."""

from __future__ import annotations

from typing import Any


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 3.5), layout="constrained")[1]


def outcomes(explorations: dict[str, Any], ax: Any = None) -> Any:
    """Bars of each outcome's executions (a log scale: a rare race shows beside thousands
    of clean runs), one group per outcome and one bar per exploration (label:
    exploration), e.g. {"movable-v3": ex_v3, "v4.8": ex_48}."""
    ax = _axes(ax)
    keys = sorted({k for ex in explorations.values() for k in ex.outcomes},
                  key=lambda k: (k != "ok", k))
    width = 0.8 / max(1, len(explorations))
    for i, (label, ex) in enumerate(explorations.items()):
        counts = [ex.outcomes.get(k, 0) for k in keys]
        ax.bar([x + i * width for x in range(len(keys))], counts, width, label=label)
    ax.set_xticks([x + width * (len(explorations) - 1) / 2 for x in range(len(keys))])
    ax.set_xticklabels(keys, rotation=20, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("executions")
    ax.set_title("outcomes")
    ax.legend()
    return ax


def fragmentation_series(run: Any, order: int, samples: int = 20,
                         zone: int = 0) -> list[tuple[float, int, int]]:
    """(simulated µs, unusable free index at `order`, free pages) at `samples` points of
    the run, from its state after each prefix of its steps (Run.state_at)."""
    trace = [e for e in run.trace() if e["kind"] == "step"]
    if not trace:
        return []
    points = sorted({round(i * (len(trace) - 1) / max(1, samples - 1)) for i in range(samples)})
    out = []
    for i in points:
        state = run.state_at(trace[i]["step"] + 1)
        blocks = state.free_blocks(zone)
        out.append((trace[i]["t"] / 1e3, state.unusable_free_index(order, zone),
                    sum(n << o for o, n in enumerate(blocks))))
    return out


def fragmentation(runs: dict[str, Any], order: int, samples: int = 20, ax: Any = None) -> Any:
    """The unusable free index at `order` (0: every free page is in blocks of that order
    or larger, 1000: none is) over simulated time, one line per run."""
    ax = _axes(ax)
    for label, run in runs.items():
        series = fragmentation_series(run, order, samples)
        ax.plot([t for t, _, _ in series], [u for _, u, _ in series], marker=".",
                label=label)
    ax.set_xlabel("simulated time (µs)")
    ax.set_ylabel(f"unusable free index, order {order}")
    ax.set_ylim(-20, 1020)
    ax.set_title("fragmentation")
    ax.legend()
    return ax


def progress(explorations: dict[str, Any], ax: Any = None) -> Any:
    """Distinct outcomes found against executions run (when each was first seen)."""
    ax = _axes(ax)
    for label, ex in explorations.items():
        firsts = sorted(ex.found.outcomes[k].first_run for k in ex.outcomes)
        xs = [0] + [x for f in firsts for x in (f, f)] + [ex.executions]
        ys = [0] + [y for i in range(len(firsts)) for y in (i, i + 1)] + [len(firsts)]
        ax.plot(xs, ys, label=label)
    ax.set_xlabel("executions")
    ax.set_ylabel("distinct outcomes")
    ax.set_title("exploration progress")
    ax.legend()
    return ax
