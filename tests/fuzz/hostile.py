"""Strategies for hostile values, and the specs that say which of them an argument takes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from hypothesis import strategies as st

EDGES = [0, 1, -1, 2, 3, 7, 10, 11, 64, 255, 256, 257, 511, 512, 513, 1023, 1024, 4095, 4096,
         2**16, 2**23, 2**23 + 512, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**32 + 512,
         2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**70, 10**30, -(2**31), -(2**63),
         -(2**63) - 1, -(2**64), -(10**30)]

ints = st.one_of(st.sampled_from(EDGES), st.integers(-3, 1100), st.integers())
floats = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 1.5, -1.0, 1e300, math.nan, math.inf,
                                    -math.inf, 2.0**64]),
                   st.floats(allow_nan=True, allow_infinity=True))
texts = st.one_of(st.sampled_from(["", " ", "0", "1", "-1", "0x3", "random", "pct", "dfs",
                                   "dpor", "timed", "v4.8", "movable-v3", "iterative", "none",
                                   "GFP_KERNEL", "GFP_KERNEL|__GFP_MOVABLE", "end", "step", "off",
                                   "\x00", "\udcff", "é" * 3, "a" * 300, "nan", "30s", "1h"]),
                  st.text(max_size=12))
scalars = st.one_of(ints, floats, st.booleans(), texts, st.none(), st.binary(max_size=6))
hostile = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.tuples(scalars, scalars),
    st.dictionaries(st.one_of(texts, ints), scalars, max_size=2),
    st.just(object()),
    st.just([[[[[]]]]]),
)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class Arg:
    """What an argument takes: `valid(v)` for a value that must be accepted (or refused for a
    reason of state), `costly(v)` for a valid value too expensive to try in a fuzz input."""

    valid: Callable[[Any], bool]
    costly: Callable[[Any], bool] = lambda v: False
    values: st.SearchStrategy[Any] | None = None  # good values, mixed in with the hostile
    required: bool = False  # never left out (a Python TypeError for a missing argument is fine)


def required(arg: Arg) -> Arg:
    return Arg(arg.valid, arg.costly, arg.values, True)


def int_arg(lo: int, hi: int, costly_above: int | None = None, optional: bool = False) -> Arg:
    def valid(v: Any) -> bool:
        return (optional and v is None) or (is_int(v) and lo <= v <= hi)

    def costly(v: Any) -> bool:
        return costly_above is not None and is_int(v) and v > costly_above

    return Arg(valid, costly, st.integers(lo, min(hi, costly_above if costly_above else hi)))


def one_of(*choices: Any) -> Arg:
    return Arg(lambda v: any(v == c and type(v) is type(c) for c in choices), values=st.sampled_from(choices))


BOOL = Arg(lambda v: isinstance(v, bool), values=st.booleans())
ANY = Arg(lambda v: True)  # no silent-acceptance oracle: any value may be meaningful


def str_arg(values: list[str] | None = None) -> Arg:
    return Arg(lambda v: isinstance(v, str), values=st.sampled_from(values) if values else texts)


def seconds_arg(costly_above: float = 0.05, optional: bool = False) -> Arg:
    def valid(v: Any) -> bool:
        return (optional and v is None) or (
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0)

    return Arg(valid, lambda v: valid(v) and v is not None and v > costly_above,
               st.sampled_from([0, 0.0, 0.01]))


def argument_values(spec: dict[str, Arg]) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments: each left out, a good value or a hostile one."""
    parts = {}
    for name, arg in spec.items():
        options = [hostile] if arg.required else [st.just(_OMIT), hostile]
        if arg.values is not None:
            options.insert(1, arg.values)
        parts[name] = st.one_of(*options)
    return st.fixed_dictionaries(parts).map(lambda d: {k: v for k, v in d.items() if v is not _OMIT})


_OMIT = object()
