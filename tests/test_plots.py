"""Plots draw what the results hold: one bar per outcome and exploration, fragmentation
samples from the run's own states, progress ending at the outcome count."""

from __future__ import annotations

import os
import sys

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from pagesim import plots

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "scenarios"))
import fragmentation_zram
import zs_free_double_isolation

SC = zs_free_double_isolation.zs_free_double_isolation


def test_outcomes_and_progress() -> None:
    exs = {k: SC.explore(kernel=k, strategy="dpor", preemption_bound=1)
           for k in ("movable-v3", "v4.8")}
    ax = plots.outcomes(exs)
    keys = sorted({k for ex in exs.values() for k in ex.outcomes})
    assert len(ax.patches) == len(keys) * len(exs)
    heights = sorted(round(p.get_height()) for p in ax.patches if p.get_height() > 0)
    assert heights == sorted(n for ex in exs.values() for n in ex.outcomes.values())
    ax = plots.progress(exs)
    for line, ex in zip(ax.get_lines(), exs.values()):
        assert line.get_ydata()[-1] == len(ex.outcomes)
        assert line.get_xdata()[-1] == ex.executions


def test_fragmentation_samples_the_runs_states() -> None:
    run = fragmentation_zram.fragmentation_zram.run(kernel="v4.8")
    series = plots.fragmentation_series(run, order=3, samples=5)
    assert len(series) == 5
    times = [t for t, _, _ in series]
    assert times == sorted(times)
    final = run.kernel
    assert series[-1][1] == final.unusable_free_index(3)
    assert series[-1][2] == sum(n << o for o, n in enumerate(final.free_blocks()))
    ax = plots.fragmentation({"v4.8": run}, order=3, samples=5)
    assert list(ax.get_lines()[0].get_ydata()) == [u for _, u, _ in series]
