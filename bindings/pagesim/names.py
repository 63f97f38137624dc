"""The names a user types, checked against what exists.

A breakpoint on a function the model does not have, or an outcome key nobody can produce,
would make a scripted reproduction or an exploration's ``never()`` pass without testing
anything. Every such name is checked when it is typed, with the near matches in the error.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from . import _core

# Outcome kinds: "oops:zs_page_isolate" is kind "oops" at function "zs_page_isolate".
KINDS = (
    "ok", "oops", "bug", "warn", "deadlock", "step_limit", "leak", "corruption", "invariant",
    "check", "exception", "uaf", "hang",
)
# The kinds whose keys name a place: a function, a Python task, a check or an exception type.
NAMED_KINDS = ("oops", "bug", "warn", "invariant", "check", "exception", "uaf")
# The end-of-run checks an invariant outcome names (core/kernel/kernel.cpp): the mm's,
# then each driver's.
INVARIANT_CHECKS = ("check_invariants", "zsmalloc_check", "zram_check", "balloon_check",
                    "test_driver_check")


class ScriptError(_core.UsageError):
    """A script step never matched in the run: the script did not do what it says. The
    run is attached (``.run``), with ``.unmatched`` the steps that never matched."""

    def __init__(self, message: str, run: object = None, unmatched: list[str] | None = None):
        super().__init__(message)
        self.run = run
        self.unmatched = unmatched or []


class InconclusiveWarning(UserWarning):
    """``never()`` on a systematic exploration that did not cover the scope asked for."""


def fix_flips(fixes: dict[str, bool]) -> list[str]:
    """The fixes flipped on a preset, as `--fix` takes them: ["c102f07ca0b0=off", ...]."""
    return [f"{k}={'on' if v else 'off'}" for k, v in sorted(fixes.items())]


def outcome_matches(key: str, asked: str) -> bool:
    """Whether outcome `key` is the one asked for: that key, or its kind ("oops")."""
    return key == asked or key.split(":")[0] == asked


def unknown_name(what: str, name: str, known: Iterable[str],
                 listing: bool = True) -> _core.UsageError:
    """The error for a name that is none of `known`: the near matches, then every one."""
    known = sorted(set(known))
    hint = _core.did_you_mean(name, known)
    tail = f" (known: {', '.join(known)})" if listing and len(known) <= 40 else ""
    return _core.UsageError(f"unknown {what} {name!r}{hint}{tail}")


def model_functions(kernel: str | None = None, fixes: dict[str, bool] | None = None) -> list[str]:
    """The model functions breakpoints can name (``until``/``before``): every one, or those
    the preset `kernel` (with `fixes` flipped) has."""
    if fixes is not None and not isinstance(fixes, dict):
        raise _core.UsageError(f"fixes must be a dict of fix names to True or False, not "
                               f"{fixes!r}")
    return list(_core.model_functions(kernel, dict(fixes or {})))


def _not_in_preset(function: str, preset: str, fixes: dict[str, bool]) -> str | None:
    """Why a model function is missing from this preset (the fix it needs), or None."""
    fix = _core.missing_fix(function, preset, fixes)
    if fix is None:
        return None
    return f"{function!r} is not in {preset}'s model: it needs fix {fix[0]} ({fix[1]})"


def check_breakpoint(function: str, preset: str, fixes: dict[str, bool],
                     task_functions: Iterable[str]) -> None:
    """A breakpoint's function must exist on this kernel: a model function of the preset,
    or a Python task's own generator function."""
    tasks = set(task_functions)
    if function in tasks or function in _core.model_functions(preset, fixes):
        return
    missing = _not_in_preset(function, preset, fixes)
    if missing:
        raise _core.UsageError(f"model function {missing}")
    raise unknown_name("model function", function, [*_core.model_functions(preset, fixes), *tasks],
                   listing=False)


def check_outcome_key(key: str, preset: str, fixes: dict[str, bool], tasks: Iterable[str],
                      checks: Iterable[str], seen: Iterable[str]) -> None:
    """An outcome key (or kind) a predicate names must be one this scenario can produce."""
    if not isinstance(key, str):
        raise _core.UsageError(f"an outcome key is a string like 'oops:zs_page_isolate', not {key!r}")
    seen = set(seen)
    if key in seen:
        return
    kind, colon, name = key.partition(":")
    if kind not in KINDS:
        raise unknown_name("outcome kind", kind, KINDS)
    if not colon:
        return
    if kind not in NAMED_KINDS or not name:
        raise _core.UsageError(
            f"outcome {key!r}: kind {kind!r} names no function (use {kind!r} alone)")
    if kind == "check":
        known = set(checks)
        if name not in known:
            raise _core.UsageError(
                f"no check named {name!r} ran{_core.did_you_mean(name, sorted(known))} "
                f"(checks: {', '.join(sorted(known)) or 'none'})")
        return
    if kind == "exception":
        types = {n for n, v in vars(builtins).items()
                 if isinstance(v, type) and issubclass(v, BaseException)}
        types |= {k.partition(":")[2] for k in seen if k.startswith("exception:")}
        if name not in types:
            raise _core.UsageError(
                f"outcome {key!r}: {name!r} is no built-in exception and none was raised"
                f"{_core.did_you_mean(name, sorted(types))}; 'exception' alone matches any")
        return
    if kind == "invariant":
        if name not in INVARIANT_CHECKS:
            raise _core.UsageError(
                f"outcome {key!r}: invariant outcomes are "
                f"{', '.join(repr('invariant:' + c) for c in INVARIANT_CHECKS)}"
                f"{_core.did_you_mean(name, list(INVARIANT_CHECKS))}")
        return
    task_names = set(tasks)
    if name in task_names:  # bug:<task>, warn:<task> from ps.bug, ps.warn
        return
    missing = _not_in_preset(name, preset, fixes)
    if missing:
        raise _core.UsageError(f"outcome {key!r} cannot happen: {missing}")
    if name not in _core.outcome_functions():
        raise unknown_name(f"function in outcome {key!r}:", name,
                       [*_core.outcome_functions(), *task_names], listing=False)
