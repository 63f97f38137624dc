"""The command line with fuzzed argv: in-process through cli.main, a few as subprocesses.

Oracle: exit status 0, 1 or 2, never a traceback; status 2 comes with a message on stderr,
one line "pagesim: ..." (or argparse's usage line and its "error:" line).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile

from hostile import texts
from hypothesis import given
from hypothesis import strategies as st
from oracle import STATS
from pagesim import cli

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(HERE, "tiny_scenarios.py")
WORK = tempfile.mkdtemp(prefix="pagesim-fuzz-cli-")
BROKEN = os.path.join(WORK, "broken.py")
RAISES = os.path.join(WORK, "raises.py")
EMPTY = os.path.join(WORK, "empty.py")
TEXT = os.path.join(WORK, "notes.txt")
with open(BROKEN, "w") as f:
    f.write("import pagesim as ps\ndef (:\n")
with open(RAISES, "w") as f:
    f.write("raise RuntimeError('a scenario file that fails to import')\n")
with open(EMPTY, "w") as f:
    f.write("x = 1\n")
with open(TEXT, "w") as f:
    f.write("not python {\n")

targets = st.sampled_from([
    TINY, f"{TINY}::tiny", f"{TINY}::tiny_scripted", f"{TINY}::nope", f"{TINY}::", "::tiny",
    BROKEN, RAISES, EMPTY, TEXT, WORK, os.path.join(WORK, "missing.py"), "", "-",
    f"{TINY}::tiny::tiny", "\x00", "é",
])
schedule_files = st.sampled_from([TEXT, WORK, os.path.join(WORK, "missing.json"), BROKEN, ""])
numbers = st.one_of(st.sampled_from(["0", "1", "-1", "3", "2", "1.5", "nan", "inf", "-inf",
                                     "1e3", "99999999999999999999999", "0x10", "", " 7", "1_0",
                                     "٣"]), texts)
json_out = st.sampled_from(["-", os.path.join(WORK, "out.json"), WORK, "",
                            os.path.join(WORK, "no", "such", "dir.json")])
fixes = st.one_of(st.sampled_from(["c102f07ca0b0", "c102f07ca0b0=off", "c102f07ca0b0=on",
                                   "nope=on", "=on", "", "x=maybe", "vm-owns-pg-isolated=off"]),
                  texts)
presets = st.one_of(st.sampled_from(["v4.8", "v4.9", "v4.14", "movable-v3", "v4.7", "nope", ""]), texts)


def flag(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([name]), values.map(lambda v: [name, v]),
                     values.map(lambda v: [f"{name}={v}"]))


def options(*flags: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.one_of(*flags), max_size=4).map(lambda ls: [a for part in ls for a in part])


RUN_FLAGS = options(flag("--kernel", presets), flag("--fix", fixes), flag("--seed", numbers),
                    flag("--strategy", st.sampled_from(["random", "timed", "pct", "x"])),
                    flag("--schedule", st.one_of(st.sampled_from(["0x3 1x2", "0", "1x99", "9",
                                                                   "0x0", "abc", ""]), texts)),
                    flag("--json", json_out), st.just(["--diagram"]), st.just(["--trace"]),
                    st.just(["--no-strict"]), st.just(["--bogus"]))
safe_budget = st.sampled_from(["10", "0.05s", "abc", "", "1.5", "-1", "10,0.05s", "1e3", "0",
                               "nan s", "5,", ",", "0s", "3min0", "1_0"])
small_numbers = st.one_of(st.sampled_from(["0", "1", "3", "-1", "1.5", "nan", "inf", "-inf",
                                           "99999999999999999999999", "", "x", "0.05",
                                           "1e-9"]), st.integers(-3, 20).map(str))
EXPLORE_FLAGS = options(flag("--kernel", presets), flag("--fix", fixes),
                        flag("--strategy", st.sampled_from(["random", "pct", "dfs", "dpor", "x"])),
                        flag("--executions", small_numbers), flag("--seconds", small_numbers),
                        flag("--budget", safe_budget), flag("--seed", numbers),
                        flag("--workers", st.sampled_from(["1", "0", "-1", "x", "1.5", "5000"])),
                        flag("--preemption-bound", st.one_of(
                            st.sampled_from(["0", "1", "none", "iterative", "-1", "x", "2**40",
                                             "99999999999999999999"]), texts)),
                        flag("--pct-depth", small_numbers), st.just(["--no-progress"]),
                        flag("--json", json_out))

argvs = st.one_of(
    st.tuples(st.just(["run"]), targets.map(lambda t: [t]), RUN_FLAGS),
    st.tuples(st.just(["explore"]), targets.map(lambda t: [t]), EXPLORE_FLAGS),
    st.tuples(st.sampled_from([["replay"], ["diagram"]]), schedule_files.map(lambda t: [t]),
              options(flag("--json", json_out), st.just(["--diagram"]),
                      flag("--depth", small_numbers))),
    st.tuples(st.sampled_from([["list"], ["presets"], ["functions"]]),
              st.one_of(targets.map(lambda t: [t]), st.just([])),
              options(flag("--kernel", presets), flag("--fix", fixes))),
    st.tuples(st.lists(st.one_of(texts, st.sampled_from(["run", "explore", "replay", "list",
                                                         "--help", "-h", "--version", "--"])),
                       max_size=5), st.just([]), st.just([])),
).map(lambda t: [*t[0], *t[1], *t[2]])


def explore_is_costly(argv: list[str]) -> bool:
    """Valid and slow: a big budget. (Exploring is fuzzed for its arguments elsewhere.)"""
    if "explore" not in argv[:1]:
        return False
    for i, a in enumerate(argv):
        value = a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv) else "")
        try:
            if a.startswith("--executions") and int(value) > 50:
                return True
            if a.startswith("--seconds") and not float(value) <= 0.1:
                return True
        except ValueError:
            pass
    return not any(a.startswith(("--executions", "--seconds", "--budget")) for a in argv)


def check_cli(argv: list[str]) -> tuple[int, str, str]:
    STATS["inputs"] += 1
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(WORK)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(argv)
            except SystemExit as e:  # --help, --version
                status = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except BaseException as e:
        raise AssertionError(f"pagesim {argv!r} raised {type(e).__name__}: {e}") from e
    finally:
        os.chdir(cwd)
    stderr = err.getvalue()
    assert status in (0, 1, 2), (argv, status, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    if status == 2:
        STATS["usage_errors"] += 1
        lines = stderr.strip().split("\n")  # not splitlines(): \x85 or \x1e in an echoed argument
        assert lines, f"pagesim {argv!r}: exit 2 with nothing on stderr"
        argparse_error = lines[0].startswith("usage:") and ": error: " in lines[-1]
        assert argparse_error or (len(lines) == 1 and lines[0].startswith("pagesim: ")), \
            f"pagesim {argv!r}: exit 2 with {stderr!r}"
    return status, out.getvalue(), stderr


@given(argv=argvs)
def test_cli_argv(argv: list[str]) -> None:
    if explore_is_costly(argv):
        return
    check_cli(argv)


def test_cli_usage_errors_as_subprocesses() -> None:
    """A few through the real entry point: exit status and stderr as a shell sees them."""
    cases = [["run", f"{TINY}::nope"], ["run", TINY, "--seed", "x"],
             ["explore", TINY, "--executions", "1.5"], ["replay", TEXT], ["run", BROKEN],
             ["explore", f"{TINY}::tiny", "--budget", "nan s"], ["nope"]]
    for argv in cases:
        STATS["inputs"] += 1
        r = subprocess.run([sys.executable, "-m", "pagesim.cli", *argv], capture_output=True,
                           text=True, check=False, cwd=WORK, timeout=120)
        assert r.returncode == 2, (argv, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr, (argv, r.stderr)
        assert r.stderr.strip().splitlines()[-1].startswith(("pagesim: ", "pagesim")), r.stderr
