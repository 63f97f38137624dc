"""A pytest plugin for `make test-sanitize` (`-p pagesim_sanitized`): the session stops at once
unless pagesim._core is the sanitized module the Makefile built (in PAGESIM_SANITIZE_CORE)
and ASan is loaded; the summary names the module that was tested."""

from __future__ import annotations

import os

import pytest


def _core_path() -> str:
    import pagesim._core as core

    path = os.path.realpath(core.__file__)
    expected = os.path.realpath(os.environ.get("PAGESIM_SANITIZE_CORE", "(unset)"))
    if os.path.dirname(path) != expected:
        raise pytest.UsageError(f"pagesim._core is {path}, not the sanitized {expected}")
    with open("/proc/self/maps") as f:
        if "libasan" not in f.read():
            raise pytest.UsageError("libasan is not loaded (LD_PRELOAD)")
    return path


def pytest_configure(config: pytest.Config) -> None:
    config._pagesim_sanitized_core = _core_path()  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    terminalreporter.write_line(
        f"pagesim._core under test: {config._pagesim_sanitized_core} (ASan + UBSan)"
    )
