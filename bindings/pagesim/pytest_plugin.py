"""pytest plugin (registered through the pytest11 entry point).

Options:
    --pagesim-seed N          the seed scenario runs use when a test does not give one
    --pagesim-replay FILE     replay this schedule (JSON) in the scenario it was recorded for

Fixtures: ``kernel`` (a fresh pagesim.Kernel on the default preset) and ``pagesim_seed``.
Marker: ``@pytest.mark.pagesim`` tags scenario tests (``pytest -m pagesim``).

When a test fails, the report gets a "pagesim" section that lists every scenario run and
exploration the test and its fixtures made, in order, each with its outcome and the command
that replays it (the schedule saved under .pagesim/failures/, one file per run); for each
run that did not end ok, and each exploration's first failure (minimised), its kernel-style
report and LKML-style diagram. An exploration stopped by Ctrl-C (it returns what it found)
stops the session rather than let its test pass. --pagesim-replay with a missing or malformed file is a usage
error (exit 4), and so is a file that no selected test replays.
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


_SAVED: list[dict[str, Any]] = []  # DEFAULTS of enclosing sessions (pytester runs in-process)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SAVED:
        DEFAULTS.update(_SAVED.pop())


def pytest_configure(config: pytest.Config) -> None:
    _SAVED.append(dict(DEFAULTS))
    config.addinivalue_line("markers", "pagesim: a pagesim scenario test")
    DEFAULTS["seed"] = config.getoption("--pagesim-seed")
    DEFAULTS["replay"], DEFAULTS["replay_used"] = None, False
    path = config.getoption("--pagesim-replay")
    if path:
        from .cli import CliError, load_schedule

        try:
            sched = load_schedule(path)
        except (CliError, _core.UsageError, ValueError) as e:
            raise pytest.UsageError(f"--pagesim-replay {path}: {e}") from None
        if not sched.meta.get("scenario"):
            raise pytest.UsageError(
                f"--pagesim-replay {path}: the file does not say which scenario it was "
                "recorded for")
        DEFAULTS["replay"] = sched


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    replay = DEFAULTS.get("replay")
    if replay is None or DEFAULTS.get("replay_used") or session.testscollected == 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    msg = (f"--pagesim-replay: no selected test ran scenario {replay.meta['scenario']!r} "
           f"on {replay.meta.get('preset', '?')}: the schedule was not replayed")
    if reporter is not None:
        reporter.write_line(f"ERROR: {msg}", red=True)
    session.exitstatus = pytest.ExitCode.USAGE_ERROR


@pytest.fixture
def pagesim_seed(request: pytest.FixtureRequest) -> int:
    seed: int | None = request.config.getoption("--pagesim-seed")
    return 0 if seed is None else seed


@pytest.fixture
def kernel() -> _core.Kernel:
    """A fresh kernel (preset v4.8, 2 CPUs, 1024 pages)."""
    return _core.Kernel(pages=1024)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    RECORDED.clear()  # from here on: the runs of this test and its fixtures
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield
    # Ctrl-C stopped an exploration, which returned what it had found: the test must not
    # pass on it. The session stops, as Ctrl-C asked.
    if any(isinstance(x, Exploration) and x.interrupted for x in RECORDED):
        raise KeyboardInterrupt


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "teardown" or not report.failed or not RECORDED:
        return
    report.sections.append(("pagesim", "\n".join(recorded_text(item, list(RECORDED)))))


def recorded_text(item: pytest.Item, recorded: list[Any]) -> list[str]:
    """Every run and exploration the test made, in order: outcome and replay command, and
    for each that did not end ok its report and diagram."""
    text = [f"{len(recorded)} scenario run(s) and exploration(s) in this test, in order:"]
    details: list[str] = []
    for i, x in enumerate(recorded, 1):
        if isinstance(x, Exploration):
            text.append(f"#{i} exploration {x!r}")
            first = x.found.first_failing()
            if first is None:
                text.append("   no execution failed" + ("" if x.exhausted else
                                                         " within the budget"))
                continue
            run = x.replay()
            details += [f"---- #{i}: {x.scenario.name} [{x.preset}]", *exploration_text(x)]
        else:
            run = x
        saved = save_failure(item, run, i)
        text += [f"#{i} run {run!r}" if run is x else f"   its first failure: {run!r}",
                 f"   replay: pagesim replay {saved}"]
        if not run.ok or run.unmatched_steps:
            if run is x:
                details.append(f"---- #{i}: {run.scenario.name} [{run.preset}]")
            details += [run.report(), "", run.diagram(), "", f"  {run.replay_command()}", ""]
    return text + ([""] + details if details else [])


def exploration_text(ex: Exploration) -> list[str]:
    """The outcome set, and which execution the replay below is."""
    text = [f"scope: {ex.scope}", "outcomes:"]
    text += [f"  {k}: {n}" for k, n in sorted(ex.outcomes.items())]
    f, first = ex.first_failure, ex.found.first_failing()
    if f is not None:
        text.append(f"first failure {f.key}, minimised to {f.preemptions} preemptions and "
                    f"{f.steps} steps:")
    elif first is not None:
        text.append(f"first failure {first.key} (not minimised):")
    text.append("")
    return text


def save_failure(item: pytest.Item, run: Any, index: int) -> str:
    """Writes a run's schedule as JSON under .pagesim/failures/ (one file per run of the
    test); returns the path."""
    root = str(item.config.rootpath)
    folder = os.path.join(root, ".pagesim", "failures")
    os.makedirs(folder, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-120:] + f"-{index}.json"
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(json.dumps(json.loads(run.schedule.to_json()), indent=2) + "\n")
    return os.path.relpath(path)
