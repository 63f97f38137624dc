"""Hypothesis profiles for the fuzz suite, and its figures.

PAGESIM_FUZZ_PROFILE selects the profile: "ci" (the default: derandomized, a fixed small
number of examples per test, no example database: what `make test` runs) or "fuzz" (random,
many examples, failing examples saved under .hypothesis/fuzz and replayed first on the next
run: what `make fuzz` runs). PAGESIM_FUZZ_EXAMPLES overrides the examples per test.
At the end the session prints how many inputs were tried; PAGESIM_FUZZ_STATS names a JSON
file to write them to (scripts/fuzz.py adds them up over its rounds).
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import sys
import time

import oracle
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROFILE = os.environ.get("PAGESIM_FUZZ_PROFILE", "ci")
_suppress = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=int(os.environ.get("PAGESIM_FUZZ_EXAMPLES", "60")),
    deadline=None,  # a slow input is caught by the per-input alarm below, not by flakiness
    suppress_health_check=_suppress,
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=DirectoryBasedExampleDatabase(os.path.join(ROOT, ".hypothesis", "fuzz")),
    max_examples=int(os.environ.get("PAGESIM_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=_suppress,
    print_blob=True,
)
if PROFILE not in ("ci", "fuzz"):
    raise pytest.UsageError(f"PAGESIM_FUZZ_PROFILE must be ci or fuzz, not {PROFILE!r}")

# Before the test modules are imported: @given takes the default settings when it decorates.
settings.load_profile(PROFILE)

# A test (all its examples) that runs this long is hung: dump every thread's stack and exit.
TEST_HANG_SECONDS = float(os.environ.get("PAGESIM_FUZZ_HANG", "900"))


# Memory an input may take beyond what the process had: past it an allocation fails
# (MemoryError, a finding) rather than the machine running out of memory.
MEMORY_MARGIN = int(float(os.environ.get("PAGESIM_FUZZ_MEMORY_GB", "3")) * 2**30)


@pytest.fixture(autouse=True)
def _hang_and_memory_backstop():
    faulthandler.dump_traceback_later(TEST_HANG_SECONDS, exit=True, file=sys.stderr)
    if os.environ.get("PAGESIM_SANITIZE"):  # ASan maps terabytes of shadow; it limits itself
        yield
        faulthandler.cancel_dump_traceback_later()
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * resource.getpagesize()
    limit = vm + MEMORY_MARGIN
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        faulthandler.cancel_dump_traceback_later()


_STARTED = time.monotonic()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not oracle.STATS["inputs"]:
        return
    failures = len(terminalreporter.stats.get("failed", []))
    seconds = time.monotonic() - _STARTED
    terminalreporter.write_line(
        f"pagesim fuzz [{PROFILE}]: {oracle.STATS['inputs']} inputs tried "
        f"({oracle.STATS['usage_errors']} refused with a UsageError), "
        f"{failures} failing test(s), {seconds:.1f} s")
    out = os.environ.get("PAGESIM_FUZZ_STATS")
    if out:
        with open(out, "w") as f:
            json.dump({**oracle.STATS, "failed_tests": failures, "seconds": seconds}, f)
