"""Run the fuzz suite (tests/fuzz) for a given time: `make fuzz FUZZ_SECONDS=3600`.

Each round runs pytest on tests/fuzz with the "fuzz" Hypothesis profile and a fresh random
seed, in its own process (a crash or a hang ends one round, not the run). Failing examples
are saved in .hypothesis/fuzz and tried first by every later round and every later
`make fuzz`, until they pass; each failing round's pytest output, with Hypothesis'
reproduction (the example, the seed and a @reproduce_failure blob), is kept under
.hypothesis/fuzz-failures/. At the end: inputs tried, failures, time.

    python scripts/fuzz.py [SECONDS] [--examples N] [-k EXPR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILURES = os.path.join(ROOT, ".hypothesis", "fuzz-failures")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("seconds", nargs="?", type=float, default=600.0)
    p.add_argument("--examples", type=int, default=300,
                   help="examples per test and round (default 300)")
    p.add_argument("-k", dest="select", default=None, help="pytest -k: only these tests")
    args = p.parse_args(argv)

    os.makedirs(FAILURES, exist_ok=True)
    end = time.monotonic() + args.seconds
    totals = {"inputs": 0, "usage_errors": 0, "failed_tests": 0, "rounds": 0, "crashes": 0}
    failing_logs = []
    started = time.monotonic()
    while time.monotonic() < end:
        seed = random.randrange(2**32)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            stats_file = f.name
        env = dict(os.environ, PAGESIM_FUZZ_PROFILE="fuzz", PAGESIM_FUZZ_STATS=stats_file,
                   PAGESIM_FUZZ_EXAMPLES=str(args.examples))
        cmd = [sys.executable, "-m", "pytest", os.path.join(ROOT, "tests", "fuzz"),
               "-p", "no:cacheprovider", f"--hypothesis-seed={seed}"]
        if args.select:
            cmd += ["-k", args.select]
        remaining = end - time.monotonic()
        print(f"round {totals['rounds'] + 1}: seed {seed}, {remaining:.0f} s left", flush=True)
        try:
            r = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=max(remaining, 60) + 900)
            out, status = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
                else (e.stdout or "")
            status = -1
        totals["rounds"] += 1
        try:
            with open(stats_file) as f:
                stats = json.load(f)
        except (OSError, ValueError):
            stats = {}
        finally:
            os.unlink(stats_file)
        for k in ("inputs", "usage_errors", "failed_tests"):
            totals[k] += int(stats.get(k, 0))
        if status not in (0, 1) or not stats:  # killed, crashed or hung: no figures written
            totals["crashes"] += 1
        if status != 0:
            log = os.path.join(FAILURES, f"round-{int(time.time())}-seed-{seed}.log")
            with open(log, "w") as f:
                f.write(f"$ {' '.join(cmd)}\n(exit status {status})\n\n{out}")
            failing_logs.append(log)
            summary = [ln for ln in out.splitlines()
                       if ln.startswith(("FAILED", "Fatal Python error", "E   "))][:12]
            print("\n".join(["  " + ln for ln in summary]) or f"  exit status {status}",
                  flush=True)
            print(f"  full output and reproduction: {log}", flush=True)
    seconds = time.monotonic() - started
    print(f"\nfuzz: {totals['inputs']} inputs tried in {totals['rounds']} rounds, "
          f"{seconds:.0f} s ({totals['inputs'] / max(seconds, 1e-9):.0f}/s); "
          f"{totals['usage_errors']} refused with a UsageError; "
          f"{totals['failed_tests']} failing test(s), {totals['crashes']} crash(es) or hang(s)")
    if failing_logs:
        print("failing rounds (each with its reproduction):")
        for log in failing_logs:
            print(f"  {log}")
        print("the failing examples are saved in .hypothesis/fuzz: `make fuzz` (or "
              "PAGESIM_FUZZ_PROFILE=fuzz pytest tests/fuzz) replays them first")
    return 1 if failing_logs else 0


if __name__ == "__main__":
    sys.exit(main())
