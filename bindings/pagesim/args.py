"""Argument checks for every function and method of the compiled core.

pybind11 answers an argument of the wrong type, or an int too large for its C++ type, with
a TypeError listing the C++ signatures ("incompatible function arguments. The following
argument types are supported: ..."), and it quietly converts some values: True is 1 for an
int, 0.5 or None is a bool, bytes are a str. Every public callable of ``_core`` is wrapped
here so that such an argument is a one-line UsageError naming it and what it must be:

    Kernel: pages must be an int between -2^63 and 2^63-1, not 2**70
    KernelState.page: pfn must be an int, not 1.5

The parameters come from the signature pybind11 writes in each docstring; the bounds of the
int parameters, which the signature does not show, from the C++ types listed in INT_TYPES.
Functions a Python task calls at every step (HOT) check their own arguments in C++.
A UsageError message with a control character in it (a name the user typed, quoted back)
has it escaped here, so that every message stays on one line.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Callable, NamedTuple

from . import _core

_U32, _U64, _I64 = (0, 2**32 - 1), (0, 2**64 - 1), (-(2**63), 2**63 - 1)

# The C++ type of each int parameter, by "Class.method" (or function) and name; an int
# parameter not listed is taken as uint64 (a stricter C++ type is still refused by pybind11,
# with a message that gives no bound).
INT_TYPES: dict[str, dict[str, tuple[int, int]]] = {
    "Kernel.__init__": {"pages": _I64, "cpus": _U32, "window": _U64, "max_steps": _U64},
    "Machine.__init__": {"cpus": _U32, "window": _U64, "max_steps": _U64},
    "Kernel.spawn": {"cpu": _I64},
    "Machine.spawn": {"cpu": _I64},
    "Kernel.alloc_pages": {"order": _U32},
    "Kernel.free_pages": {"pfn": _I64, "order": _U32},
    "Kernel.fault_in": {"pid": _I64, "npages": _U32},
    "Machine.counter": {"value": _I64},
    "Machine.run": {"seed": _U64},
    "Machine.explore": {"executions": _U64, "seed": _U64, "preemption_bound": _U32,
                        "pct_depth": (1, 64), "worker": _U32, "workers": _U32},
    "KernelState.page": {"pfn": _I64},
    "KernelState.dump_page": {"pfn": _I64},
    "KernelState.free_blocks": {"zone": _I64},
    "KernelState.unusable_free_index": {"order": _U32, "zone": _I64},
    "KernelState.fragmentation_index": {"order": _U32, "zone": _I64},
    "KernelState.corrupt_pages": {"pid": _I64},
    "KernelState.process_pages": {"pid": _I64},
    "Counter.add": {"delta": _I64},
    "Counter.set": {"value": _I64},
    "ExploreResult.set_workers": {"n": _U32},
    "delay": {"ns": _I64},
    "page_obj": {"pfn": _U32},
    "zs_handle_obj": {"pool": _U32, "handle": _U64},
    "zspage_obj": {"zspage": _U32},
    "zs_pages_of": {"pool": _I64, "handle": _I64},
    "zs_handle": {"pool": _I64, "handle": _I64},
    "zs_stats": {"pool": _I64},
    "bench_ping": {"tasks": _U32, "steps_per_task": _U64},
}

# What a parameter of another kind must be, where its name alone does not say it well.
SHAPES = {
    "zones": "a list of (name, pages, migratetype) tuples, e.g. [('Normal', 1024, 'MOVABLE')]",
    "fixes": "a dict mapping fix names to True or False",
    "known": "a list of strings",
    "schedule": "a list of CPU numbers",
}

# Called by Python tasks at every step: not wrapped, they check their arguments in C++
# (str_arg, int_arg in bindings/py_common.h) and a run pays nothing for it.
HOT = {"call", "delay", "now", "check", "vmstat", "bug", "warn", "Lock", "Counter", "Op"}


class Param(NamedTuple):
    name: str
    kind: str  # int, float, bool, str, any, or another annotation (a class, a sequence)
    optional: bool  # None is accepted
    star: str  # "": positional or keyword; "*": *args; "**": **kwargs; "kw": keyword only
    default: bool = False  # has a default value


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets and quotes."""
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def signature(doc: str | None) -> list[Param] | None:
    """The parameters of a pybind11 function from the first line of its docstring, or None
    (an overloaded function, or no signature)."""
    if not doc or "Overloaded function" in doc.split("\n", 2)[0:2][-1]:
        return None
    line = doc.split("\n", 1)[0]
    m = re.match(r"^[\w.]+\((.*)\)( -> .*)?$", line)
    if not m:
        return None
    params, keyword_only = [], False
    for part in _split_top(m[1]):
        if part == "*":
            keyword_only = True
            continue
        if part.startswith("**"):
            params.append(Param(part[2:], "any", True, "**"))
            continue
        if part.startswith("*"):
            params.append(Param(part[1:], "any", True, "*"))
            keyword_only = True
            continue
        name, _, rest = part.partition(":")
        ann, eq, _ = rest.partition(" = ")
        ann = ann.strip()
        name = name.strip()
        if re.fullmatch(r"arg[0-9]+", name):  # no py::arg name: say which one it is
            name = f"argument {int(name[3:]) + 1}"
        alts = [a.strip() for a in _split_bar(ann)]
        optional = "None" in alts or ann.startswith("typing.Optional")
        alts = [a for a in alts if a != "None"]
        if any(a.startswith("typing.SupportsInt") for a in alts):
            kind = "int"
        elif any(a.startswith("typing.SupportsFloat") for a in alts):
            kind = "float"
        elif alts in (["bool"], ["str"], ["object"]):
            kind = {"object": "any"}.get(alts[0], alts[0])
        else:
            kind = " | ".join(alts)
        params.append(Param(name, kind, optional, "kw" if keyword_only else "", bool(eq)))
    return params


def _split_bar(ann: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(ann):
        depth += ch in "[(" and 1 or ch in "])" and -1 or 0
        if ch == "|" and depth == 0:
            out.append(ann[start:i])
            start = i + 1
    out.append(ann[start:])
    return out


def _bits(v: int) -> str:
    for p in (32, 63, 64):
        if v == 2**p - 1:
            return f"2^{p}-1"
        if v == -(2**p):
            return f"-2^{p}"
    return str(v)


def _show(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**64:
        return f"2**{v.bit_length() - 1}" if v > 0 and v & (v - 1) == 0 else f"an int of {v.bit_length()} bits"
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _problem(p: Param, v: Any, bounds: tuple[int, int] | None) -> str | None:
    """What is wrong with value v for parameter p, or None."""
    if v is None and p.optional:
        return None
    none = " or None" if p.optional else ""
    if p.kind == "int":
        lo, hi = bounds or _U64
        what = f"an int between {_bits(lo)} and {_bits(hi)}{none}"
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, bool) or not hasattr(v, "__index__"):
                return what
            v = v.__index__()
        return None if lo <= v <= hi else what
    if p.kind == "float":
        finite = f"a finite number{none}"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return finite
        return None if math.isfinite(v) else finite
    if p.kind == "bool":
        return None if isinstance(v, bool) else f"True or False{none}"
    if p.kind == "str":
        if not isinstance(v, str):
            return f"a string{none}"
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return f"a string of UTF-8 text{none}"
        return None
    return None


def _describe(p: Param, qual: str) -> str:
    if p.name in SHAPES:
        return SHAPES[p.name]
    kind = p.kind.split("[", 1)[0].rsplit(".", 1)[-1]
    kind = {"Sequence": "list", "Mapping": "dict"}.get(kind, kind)
    return f"a {kind}" + (" or None" if p.optional else "")


def _bind(params: list[Param], args: tuple[Any, ...], kw: dict[str, Any]) -> list[tuple[Param, Any]]:
    out, positional = [], [p for p in params if p.star == ""]
    for p, v in zip(positional, args):
        out.append((p, v))
    by_name = {p.name: p for p in params if p.star in ("", "kw")}
    for k, v in kw.items():
        if k in by_name:
            out.append((by_name[k], v))
    return out


def _fast_check(p: Param, bounds: tuple[int, int] | None) -> Callable[[Any], bool]:
    """True for a value that is surely fine (else _problem decides)."""
    if p.kind == "int":
        lo, hi = bounds or _U64
        return lambda v: type(v) is int and lo <= v <= hi
    if p.kind == "bool":
        return lambda v: v is True or v is False
    if p.kind == "str":
        return lambda v: type(v) is str and v.isascii()
    if p.kind == "float":
        return lambda v: type(v) is float and math.isfinite(v)
    return lambda v: True


def _error(qual: str, p: Param, v: Any, what: str) -> Exception:
    return _core.UsageError(f"{qual}: {p.name} must be {what}, not {_show(v)}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(e: Exception) -> Exception | None:
    """A copy of UsageError e with its control characters escaped, or None if it has none."""
    text = str(e)
    if not _CONTROL.search(text):
        return None
    return type(e)(_CONTROL.sub(lambda m: repr(m[0])[1:-1], text))


def wrap(fn: Callable[..., Any], qual: str, is_method: bool) -> Callable[..., Any]:
    params = signature(fn.__doc__)
    if params is None:
        return fn
    if is_method and params and params[0].name == "self":
        params = params[1:]
    bounds = INT_TYPES.get(qual, {})
    user_name = qual.replace(".__init__", "")

    # The common case first, fast: a value of exactly the type (an int in range).
    fast = {p.name: _fast_check(p, bounds.get(p.name)) for p in params}
    positional = [(p, fast[p.name]) for p in params if p.star == ""]
    oks = [ok for _, ok in positional]

    def diagnose(args: tuple[Any, ...], kw: dict[str, Any]) -> Exception | None:
        for (p, ok), v in zip(positional, args):
            if not ok(v):
                what = _problem(p, v, bounds.get(p.name))
                if what:
                    return _error(user_name, p, v, what)
        if kw:
            for p, v in _bind(params, (), kw):
                if not fast[p.name](v):
                    what = _problem(p, v, bounds.get(p.name))
                    if what:
                        return _error(user_name, p, v, what)
        return None

    def explain(e: TypeError, args: tuple[Any, ...], kw: dict[str, Any]) -> Exception:
        found = diagnose(args, kw)
        if found:
            return found
        names = {p.name for p in params}
        for k in kw:
            if k not in names and not any(p.star == "**" for p in params):
                known = ", ".join(p.name for p in params if p.star in ("", "kw"))
                return _core.UsageError(f"{user_name}: no argument {k!r} (arguments: {known})")
        positional = [p for p in params if p.star == ""]
        if len(args) > len(positional) and not any(p.star == "*" for p in params):
            return _core.UsageError(
                f"{user_name}: takes at most {len(positional)} positional argument(s), "
                f"got {len(args)}")
        for p, v in _bind(params, args, kw):
            if p.kind not in ("int", "float", "bool", "str", "any"):
                return _error(user_name, p, v, _describe(p, qual))
        missing = [p.name for p in positional[len(args):] if p.name not in kw and not p.default]
        if missing:
            return _core.UsageError(f"{user_name}: missing argument {missing[0]!r} "
                                    f"(arguments: {', '.join(p.name for p in params)})")
        return _core.UsageError(f"{user_name}: wrong arguments "
                                f"({', '.join(p.name for p in params)})")

    def precheck(args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        if kw or not all(ok(v) for ok, v in zip(oks, args)):
            bad = diagnose(args, kw)
            if bad:
                raise bad

    def call(full: tuple[Any, ...], args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        try:
            return fn(*full, **kw)
        except _core.UsageError as e:
            clean = one_line(e)
            if clean is None:
                raise
            raise clean from None
        except TypeError as e:
            if not _is_dispatch_error(e):
                raise
            raise explain(e, args, kw) from None
        finally:
            full = None  # type: ignore[assignment]  # see __init__ below

    if qual.endswith(".__init__"):

        def wrapper(*args: Any, **kw: Any) -> Any:  # type: ignore[misc]
            try:
                precheck(args[1:], kw)
                return call(args, args[1:], kw)
            except BaseException:
                # The instance was never constructed: a traceback that keeps these frames
                # must not hold it (pytest's repr of the arguments would call its __repr__
                # on no C++ object: a segfault). call() drops it too.
                args = kw = None  # type: ignore[assignment]
                raise

    elif is_method:

        def wrapper(self: Any, *args: Any, **kw: Any) -> Any:
            precheck(args, kw)
            return call((self, *args), args, kw)
    else:

        def wrapper(*args: Any, **kw: Any) -> Any:  # type: ignore[misc]
            precheck(args, kw)
            return call(args, args, kw)

    functools.update_wrapper(wrapper, fn)
    wrapper.__wrapped_core__ = fn  # type: ignore[attr-defined]
    return wrapper


def _is_dispatch_error(e: TypeError) -> bool:
    text = str(e)
    return ("incompatible function arguments" in text
            or "incompatible constructor arguments" in text)


def _explore_progress(wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """Machine.explore: progress is None or a function, and whatever it returns is taken as
    true or false (a non-callable was a raw TypeError, a str return a raw RuntimeError)."""

    @functools.wraps(wrapper)
    def explore(self: Any, *args: Any, **kw: Any) -> Any:
        if len(args) > 8:  # progress (and what follows) given by position: keywords
            kw.update(zip(("progress", "minimise", "iterative"), args[8:]))
            args = args[:8]
        progress = kw.get("progress")
        if progress is not None:
            if not callable(progress):
                raise _core.UsageError(f"Machine.explore: progress must be a function of the "
                                       f"result or None, not {_show(progress)}")
            kw["progress"] = lambda r: bool(progress(r))
        return wrapper(self, *args, **kw)

    return explore


def install(core: Any) -> None:
    """Wrap every public function and method of the core module, once."""
    if getattr(core, "_args_checked", False):
        return
    for name, obj in list(vars(core).items()):
        if name.startswith("_") or name in HOT:
            continue
        if type(obj).__name__ == "builtin_function_or_method":
            setattr(core, name, wrap(obj, name, False))
        elif isinstance(obj, type) and not issubclass(obj, BaseException):
            for attr, member in list(vars(obj).items()):
                if attr.startswith("__") and attr != "__init__":
                    continue
                qual = f"{name}.{attr}"
                if type(member).__name__ == "instancemethod":
                    setattr(obj, attr, wrap(member.__func__, qual, True))
                elif isinstance(member, staticmethod):
                    setattr(obj, attr, staticmethod(wrap(member.__func__, qual, False)))
    core.Machine.explore = _explore_progress(core.Machine.explore)
    core._args_checked = True


install(_core)
