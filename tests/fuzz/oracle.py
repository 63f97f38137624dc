"""The fuzz oracle: what any call of the public API may do with any input.

A call returns, or raises pagesim.UsageError (or a subclass: ScriptError,
StaleScheduleError, SetupFault) with a clear one-line message. Anything else (a raw
pybind11 TypeError or RuntimeError, ValueError, OverflowError, MemoryError, a crash, a
hang) is a finding. A hang is caught by faulthandler: past INPUT_SECONDS the process
prints every thread's stack and exits.
"""

from __future__ import annotations

import faulthandler
import os
import sys
from typing import Any, Callable

import pagesim as ps

STATS = {"inputs": 0, "usage_errors": 0}
INPUT_SECONDS = float(os.environ.get("PAGESIM_FUZZ_INPUT_SECONDS", "120"))
TEST_SECONDS = float(os.environ.get("PAGESIM_FUZZ_HANG", "900"))

# Raw exception types that must never reach a user of the API.
RAW = (TypeError, RuntimeError, ValueError, OverflowError, MemoryError, KeyError, IndexError,
       AttributeError, AssertionError, SystemError, RecursionError)


class Refused(Exception):
    """What attempt() returns (not raises) for a call refused with a UsageError."""

    def __init__(self, error: ps.UsageError):
        super().__init__(str(error))
        self.error = error


def check_message(e: BaseException, what: str = "") -> None:
    msg = str(e)
    assert msg.strip(), f"{what}: {type(e).__name__} with an empty message"
    assert "\n" not in msg.strip(), f"{what}: message of more than one line: {msg!r}"
    assert len(msg) < 2000, f"{what}: a message of {len(msg)} characters"
    for raw in ("incompatible function arguments", "incompatible constructor arguments",
                "Unable to cast", "std::", "typing.Supports"):
        assert raw not in msg, f"{what}: pybind11 internals in the message: {msg!r}"


def attempt(fn: Callable[..., Any], *args: Any, what: str = "", **kw: Any) -> Any:
    """fn(*args, **kw): its result, or a Refused for a UsageError. Fails on anything else."""
    STATS["inputs"] += 1
    label = what or getattr(fn, "__qualname__", repr(fn))
    faulthandler.dump_traceback_later(INPUT_SECONDS, exit=True, file=sys.stderr)
    try:
        return fn(*args, **kw)
    except ps.UsageError as e:
        STATS["usage_errors"] += 1
        check_message(e, label)
        return Refused(e)
    except RAW as e:
        raise AssertionError(
            f"{label}{_show(args, kw)} raised a raw {type(e).__name__}: {e}") from e
    finally:
        faulthandler.dump_traceback_later(TEST_SECONDS, exit=True, file=sys.stderr)


def _show(args: tuple[Any, ...], kw: dict[str, Any]) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kw.items()]
    return "(" + ", ".join(parts) + ")"


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."
