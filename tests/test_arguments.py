"""Bad arguments are one-line UsageErrors before any work starts (issue 15, F4 and F12)."""

from __future__ import annotations

import math
import os
import sys

import pytest

import pagesim as ps

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "scenarios"))
from zs_free_double_isolation import zs_free_double_isolation as ZS_FREE


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"seconds": math.nan}, "seconds must be a finite number >= 0, not nan"),
        ({"seconds": math.inf}, "seconds must be a finite number >= 0, not inf"),
        ({"seconds": -1}, "seconds must be a finite number >= 0, not -1"),
        ({"seconds": "3"}, "seconds must be a finite number >= 0, not '3'"),
        ({"executions": 1.5}, "executions must be an int at least 0, not 1.5"),
        ({"executions": -2}, "executions must be an int at least 0, not -2"),
        ({"executions": True}, "executions must be an int at least 0, not True"),
        ({"executions": 0}, "an exploration needs a budget"),
        ({"seed": "3"}, "seed must be an int at least 0, not '3'"),
        ({"seed": -1}, "seed must be an int at least 0, not -1"),
        ({"strategy": "pct", "pct_depth": 0}, "pct_depth must be an int between 1 and 64, not 0"),
        ({"workers": 10**6}, "workers must be an int between 1 and 4096, not 1000000"),
        ({"workers": 0}, "workers must be an int between 1 and 4096, not 0"),
        ({"preemption_bound": -1}, "preemption_bound must be 'iterative', None or an int >= 0"),
        ({"preemption_bound": "2"}, "preemption_bound must be 'iterative', None or an int >= 0"),
        ({"max_steps": 0}, "max_steps must be at least 1"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_bad_exploration_arguments(kw, message) -> None:
    with pytest.raises(ps.UsageError) as e:
        ZS_FREE.explore(minimise=False, **kw)
    assert message in str(e.value) and "\n" not in str(e.value)
