"""pytest plugin (registered through the pytest11 entry point).

Options:
    --pagesim-seed N          the seed scenario runs use when a test does not give one
    --pagesim-replay FILE     replay this schedule (JSON) in the scenario it was recorded for

Fixtures: ``kernel`` (a fresh pagesim.Kernel on the default preset) and ``pagesim_seed``.
Marker: ``@pytest.mark.pagesim`` tags scenario tests (``pytest -m pagesim``).

When a test fails after running or exploring a scenario, the report gets a "pagesim" section
with the outcome (for an exploration: its outcome set and its first failure, minimised), the
LKML-style diagram and the exact command that replays the run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from . import _core
from .scenario import DEFAULTS, RECORDED, Exploration


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pagesim")
    group.addoption(
        "--pagesim-seed", type=int, default=None, help="seed for scenario runs that do not give one"
    )
    group.addoption(
        "--pagesim-replay",
        metavar="FILE",
        default=None,
        help="replay this schedule JSON in the scenario it was recorded for",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pagesim: a pagesim scenario test")
    DEFAULTS["seed"] = config.getoption("--pagesim-seed")
    path = config.getoption("--pagesim-replay")
    if path:
        from .cli import load_schedule

        DEFAULTS["replay"] = load_schedule(path)


@pytest.fixture
def pagesim_seed(request: pytest.FixtureRequest) -> int:
    seed: int | None = request.config.getoption("--pagesim-seed")
    return 0 if seed is None else seed


@pytest.fixture
def kernel() -> _core.Kernel:
    """A fresh kernel (preset v4.8, 2 CPUs, 1024 pages)."""
    return _core.Kernel(pages=1024)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    RECORDED.clear()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or not RECORDED:
        return
    last = RECORDED[-1]
    if isinstance(last, Exploration):
        text = exploration_text(last)
        run = last.replay() if last.found.first_failing() else None
    else:
        text, run = [f"last scenario run: {last!r}", ""], last
    if run is not None:
        saved = save_failure(item, run)
        text += [
            run.report(),
            "",
            run.diagram(),
            "",
            "replay it with:",
            f"  pagesim replay {saved}",
            f"  {run.replay_command()}",
        ]
    report.sections.append(("pagesim", "\n".join(text)))


def exploration_text(ex: Exploration) -> list[str]:
    """The outcome set, and which execution the replay below is."""
    text = [f"last exploration: {ex!r}", "outcomes:"]
    text += [f"  {k}: {n}" for k, n in sorted(ex.outcomes.items())]
    f, first = ex.first_failure, ex.found.first_failing()
    if f is not None:
        text.append(f"first failure {f.key}, minimised to {f.preemptions} preemptions and "
                    f"{f.steps} steps:")
    elif first is not None:
        text.append(f"first failure {first.key} (not minimised):")
    else:
        text.append("no execution failed" + ("" if ex.exhausted else " within the budget"))
    text.append("")
    return text


def save_failure(item: pytest.Item, run: Any) -> str:
    """Writes the failing run's schedule as JSON under .pagesim/failures/; returns the path."""
    root = str(item.config.rootpath)
    folder = os.path.join(root, ".pagesim", "failures")
    os.makedirs(folder, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-120:] + ".json"
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(json.dumps(json.loads(run.schedule.to_json()), indent=2) + "\n")
    return os.path.relpath(path)
