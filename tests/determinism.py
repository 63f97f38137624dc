"""The determinism sweep: every library scenario, over many seeds, in two processes that
must agree on every trace hash and every outcome set.

    python tests/determinism.py [--seeds N] [--explore-seeds M] [--profile quick|big]
                                [--executions E] [--serial] [--json OUT]
    python tests/determinism.py diff A.json B.json    (two children's records, compared)

The parent starts two child processes (``python tests/determinism.py child ...``) that
each load every file in scenarios/ (``pagesim.cli.load_scenarios``; a file without
``@ps.scenario`` must be a known engine machine, see MACHINES), and for every scenario,
every configuration (each preset, and the file's BUGGY fixes on the scenario's own
kernel) and every seed record:

- runs: the scripted run (its open steps fall to the random strategy), an unscripted
  random run and an unscripted timed run -> trace hash, steps, outcome keys, schedule
  digest; and once per configuration the same scripted run through ``Scenario.run`` (a
  fresh build: it must agree with the runs of the reused build in the same process);
- explorations (EXPLORE_CASES): random and pct per exploration seed, dfs and dpor with
  budgets that exhaust their bound, and budget-stopped dfs/dpor -> executions, outcome
  counts, examples, the minimised first failure, exhausted, bound covered.

The children differ in everything that must not matter: PYTHONHASHSEED, the order (the
second runs scenario files, configurations, seeds and cases in reverse) and the number of
exploration workers (1 and 2). The parent compares the two record sets key by key,
prints the count of runs and explorations compared and a readable diff of every
mismatch, and exits 1 on any mismatch or problem. ``make determinism`` runs the big
sweep; tests/test_determinism.py a moderate one.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(os.path.dirname(HERE), "scenarios")

# Library files that drive the bare engine (pagesim.Machine) instead of a scenario: the
# function that builds the machine. Any other file without a scenario is a problem.
MACHINES = {"engine_abba.py": "build_abba"}

# The two processes: what must not change the results.
CHILDREN = (
    {"name": "A", "hash_seed": "0", "reverse": False, "workers": 1},
    {"name": "B", "hash_seed": "2718281", "reverse": True, "workers": 2},
)

# Fields that legitimately differ between the two processes: wall-clock figures, and the
# worker count the child used.
VOLATILE = ("seconds", "executions_per_s", "workers")


@dataclass(frozen=True)
class Case:
    """One exploration of every scenario configuration."""

    label: str
    strategy: str
    executions: int
    preemption_bound: int | None | str = "iterative"
    seeded: bool = False  # random, pct: once per exploration seed
    must_exhaust: bool = False  # dfs, dpor: a budget that exhausts the bound


def explore_cases(profile: str, executions: int) -> list[Case]:
    """The explorations of each scenario configuration for a profile (quick or big)."""
    cases = [
        Case("random", "random", executions, seeded=True),
        Case("pct", "pct", executions, seeded=True),
        Case("dfs bound=1", "dfs", 200_000, 1, must_exhaust=True),
        Case("dpor bound=1", "dpor", 200_000, 1, must_exhaust=True),
    ]
    if profile == "big":
        cases.append(Case("dpor bound=2", "dpor", 500_000, 2, must_exhaust=True))
    # Budgets that stop dfs and dpor: the budget is the whole exploration's, so 1 and 2
    # workers give the same result (issue 15, F6).
    if profile == "quick":
        cases += [Case("dfs iterative budget=300", "dfs", 300),
                  Case("dpor iterative budget=300", "dpor", 300)]
    else:
        cases += [
            Case("dfs iterative budget=3000", "dfs", 3000),
            Case("dpor iterative budget=3000", "dpor", 3000),
            Case("dpor unbounded budget=3000", "dpor", 3000, None),
            Case("dfs bound=2 budget=3000", "dfs", 3000, 2),
        ]
    return cases


# ---------------------------------------------------------------------------------------
# The library


@dataclass
class Subject:
    """A library scenario (or engine machine) with the configurations it is run in."""

    file: str  # the file name in scenarios/
    name: str
    scenario: Any = None  # a pagesim Scenario
    machine: Any = None  # or a function building a pagesim.Machine
    configs: list[tuple[str, str | None, dict[str, bool]]] = field(default_factory=list)


def _configs(sc: Any) -> list[tuple[str, str | None, dict[str, bool]]]:
    """(label, kernel, fixes): every preset, then the file's BUGGY fixes on its kernel."""
    import pagesim as ps

    out: list[tuple[str, str | None, dict[str, bool]]] = [
        (p["name"], p["name"], {}) for p in ps.presets()]
    buggy = sc.fn.__globals__.get("BUGGY")
    if isinstance(buggy, dict) and buggy:
        kernel = sc.options["kernel"]
        flips = " ".join(f"{k}={'on' if v else 'off'}" for k, v in sorted(buggy.items()))
        out.append((f"{kernel} {flips}", kernel, dict(buggy)))
    return out


def library(directory: str = SCENARIOS) -> tuple[list[Subject], list[str], list[str]]:
    """(subjects, files, problems): every scenario in the library's files, in file order."""
    from pagesim import UsageError, load_scenarios

    subjects, files, problems = [], [], []
    for path in sorted(glob.glob(os.path.join(directory, "*.py"))):
        base = os.path.basename(path)
        files.append(base)
        try:
            found = load_scenarios(path)
        except UsageError as e:
            if base not in MACHINES:
                problems.append(f"{base}: {e} (and it is not a known engine machine)")
                continue
            spec = importlib.util.spec_from_file_location(f"pagesim_machine_{base[:-3]}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            build = getattr(module, MACHINES[base])
            subjects.append(Subject(base, base[:-3], machine=build,
                                    configs=[("machine", None, {})]))
            continue
        for name, sc in found.items():
            subjects.append(Subject(base, name, scenario=sc, configs=_configs(sc)))
    if not files:
        problems.append(f"no scenario files in {directory}")
    return subjects, files, problems


# ---------------------------------------------------------------------------------------
# One child: run everything, record it


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run_record(result: Any) -> dict[str, Any]:
    return {
        "trace_hash": f"{result.trace_hash:016x}",
        "steps": result.steps,
        "outcomes": [o.key for o in result.outcomes] or ["ok"],
        "schedule": _digest(str(result.schedule)),
    }


def _explore_record(found: Any) -> dict[str, Any]:
    j = json.loads(found.to_json())
    for e in j["examples"].values():
        e["report"] = _digest(e["report"])  # the text itself is long; a change shows here
    return j


def _error(e: BaseException) -> dict[str, Any]:
    return {"error": f"{type(e).__name__}: {e}"}


def _explore_machine(build: Any, case: Case, seed: int, workers: int) -> Any:
    """What Scenario.explore does, for a bare engine machine."""
    from pagesim import parallel
    from pagesim.scenario import _bound

    m = build()
    iterative, bound = _bound(case.preemption_bound)
    args = {"strategy": case.strategy, "executions": case.executions, "seconds": 0.0,
            "seed": seed, "preemption_bound": bound, "pct_depth": 3, "iterative": iterative}
    if workers > 1:
        found = parallel.run_local(m, args, workers, None)
    else:
        found = parallel.explore_share(m, args, 0, 1, None)
    first = found.first_failing()
    if first is not None:
        found.first_failure = m.minimise(first.key, list(first.schedule.choices))
    return found


class Recorder:
    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.problems: list[str] = []

    def put(self, key: str, value: Any) -> None:
        if key in self.records:
            self.problems.append(f"recorded twice: {key}")
        self.records[key] = value


def sweep_subject(rec: Recorder, sub: Subject, seeds: list[int], explore_seeds: list[int],
                  cases: list[Case], workers: int, reverse: bool) -> None:
    order = (lambda xs: list(reversed(xs))) if reverse else list
    for label, kernel, fixes in order(sub.configs):
        where = f"{sub.name} [{label}]"
        # Runs: one build, every seed on it (each run starts from a copy of the set-up
        # state, so the order of seeds must not matter).
        try:
            if sub.machine is not None:
                core, script = sub.machine(), None
            else:
                built = sub.scenario.build(kernel, fixes, trace=False)
                core, script = built.core, built.script
        except Exception as e:  # noqa: BLE001 - a set-up error is a result to compare
            rec.put(f"build {where}", _error(e))
            core = None
        if core is not None:
            kinds = [("random", "random", None), ("timed", "timed", None)]
            if script is not None:
                kinds.insert(0, ("scripted", "random", script.as_tuples()))
            for seed in order(seeds):
                for kind, strategy, tuples in order(kinds):
                    try:
                        r = core.run(strategy=strategy, seed=seed, script=tuples,
                                     errors_as_outcomes=True)
                        value = _run_record(r)
                    except Exception as e:  # noqa: BLE001
                        value = _error(e)
                    rec.put(f"run {where} {kind} seed={seed}", value)
            if script is not None:
                # The public API, on a fresh build: must agree with the reused build.
                key = f"run {where} scripted seed={seeds[0]}"
                try:
                    run = sub.scenario.run(kernel=kernel, fixes=fixes, seed=seeds[0],
                                           strict=False, trace=False, errors_as_outcomes=True)
                    value = _run_record(run.result)
                except Exception as e:  # noqa: BLE001
                    value = _error(e)
                rec.put(f"{key} via Scenario.run", value)
                if key in rec.records and value != rec.records[key]:
                    rec.problems.append(
                        f"{where}: Scenario.run (fresh build) gave {value}, the reused build "
                        f"{rec.records[key]} for the same scripted seed {seeds[0]}")
        if core is None:
            continue  # every exploration would stop at the same set-up error, compared once
        for case in order(cases):
            for seed in order(explore_seeds) if case.seeded else [0]:
                key = f"explore {where} {case.label}" + (f" seed={seed}" if case.seeded else "")
                try:
                    if sub.machine is not None:
                        found = _explore_machine(sub.machine, case, seed, workers)
                    else:
                        found = sub.scenario.explore(
                            kernel=kernel, fixes=fixes, strategy=case.strategy,
                            executions=case.executions, seed=seed,
                            preemption_bound=case.preemption_bound, workers=workers).found
                    value = _explore_record(found)
                    if case.must_exhaust and not value["exhausted"]:
                        rec.problems.append(
                            f"{key}: not exhausted after {value['executions']} executions: "
                            "raise the case's budget")
                except Exception as e:  # noqa: BLE001
                    value = _error(e)
                value["_workers"] = workers
                rec.put(key, value)


def child(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    subjects, files, problems = library(args.scenarios)
    rec = Recorder()
    rec.problems += problems
    seeds = list(range(args.seeds))
    explore_seeds = list(range(args.explore_seeds))
    cases = explore_cases(args.profile, args.executions)
    for sub in reversed(subjects) if args.reverse else subjects:
        sweep_subject(rec, sub, seeds, explore_seeds, cases, args.workers, args.reverse)
    doc = {
        "files": files,
        "subjects": [f"{s.file}::{s.name}" for s in subjects],
        "configs": sum(len(s.configs) for s in subjects),
        "records": rec.records,
        "problems": rec.problems,
        "seconds": time.monotonic() - t0,
        "hash_seed": os.environ.get("PYTHONHASHSEED"),
        "reverse": args.reverse,
        "workers": args.workers,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, sort_keys=True)
    return 0


# ---------------------------------------------------------------------------------------
# The parent: two children, compared


@dataclass
class Summary:
    files: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    configs: int = 0
    runs: int = 0  # run records compared
    distinct_hashes: int = 0
    explorations: int = 0  # exploration records compared
    across_workers: int = 0  # of which with 1 worker in one child, 2 in the other
    errors: int = 0  # records that are an error (a set-up the preset cannot build), compared
    # scenario name: [runs, explorations] compared
    per_subject: dict[str, list[int]] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    repro: list[str] = field(default_factory=list)  # the children's command lines

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.problems

    def text(self) -> str:
        lines = [
            "determinism: " + "; ".join(self.commands),
            (f"library: {len(self.files)} files, {len(self.subjects)} scenarios and machines, "
             f"{self.configs} configurations"),
            (f"compared: {self.runs:,} runs ({self.distinct_hashes:,} distinct trace hashes), "
             f"{self.explorations:,} explorations ({self.across_workers:,} with 1 vs 2 workers), "
             f"{self.errors:,} set-up errors"),
            "time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()),
            f"mismatches: {len(self.mismatches)}",
        ]
        lines += self.mismatches
        if self.mismatches:
            lines.append("reproduce: run the two children, then "
                         "`tests/determinism.py diff A.json B.json`:")
            lines += [f"  {c}" for c in self.repro]
        if self.problems:
            lines.append(f"problems: {len(self.problems)}")
            lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _strip(value: Any, drop: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, drop) for k, v in value.items() if k not in drop}
    return value


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Readable differences between two records: one line per differing leaf."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                out.append(f"{p}: {a.get(k, '<absent>')!r} | {b.get(k, '<absent>')!r}")
            else:
                out += diff(a[k], b[k], p)
        return out
    return [] if a == b else [f"{path or 'value'}: {a!r} | {b!r}"]


def compare(a: dict[str, Any], b: dict[str, Any]) -> Summary:
    """Compare child A's records with child B's."""
    s = Summary(files=a["files"], subjects=a["subjects"], configs=a["configs"])
    for name, doc in (("A", a), ("B", b)):
        s.problems += [f"{name}: {p}" for p in doc["problems"]]
    if (a["files"], sorted(a["subjects"])) != (b["files"], sorted(b["subjects"])):
        s.problems.append(f"the children saw different libraries: {a['subjects']} | "
                          f"{b['subjects']}")
    ra, rb = a["records"], b["records"]
    for key in sorted(set(ra) ^ set(rb)):
        s.mismatches.append(f"- {key}: recorded only by {'A' if key in ra else 'B'}")
    hashes = set()
    for key in sorted(set(ra) & set(rb)):
        va, vb = ra[key], rb[key]
        drop = VOLATILE
        kind, subject = key.split()[:2]
        if kind in ("run", "explore"):
            s.per_subject.setdefault(subject, [0, 0])[kind == "explore"] += 1
        if key.startswith("explore "):
            s.explorations += 1
            if va.get("_workers") != vb.get("_workers"):
                s.across_workers += 1
        elif key.startswith("run "):
            s.runs += 1
            hashes.add(va.get("trace_hash"))
        if "error" in va:
            s.errors += 1
        va, vb = _strip(va, drop + ("_workers",)), _strip(vb, drop + ("_workers",))
        if va != vb:
            lines = diff(va, vb)
            s.mismatches.append(f"- {key} (A | B):\n" + "\n".join(f"    {x}" for x in lines))
    s.distinct_hashes = len(hashes - {None})
    return s


def run_children(seeds: int, explore_seeds: int, profile: str, executions: int,
                 scenarios: str = SCENARIOS, parallel: bool = True,
                 timeout: float | None = None) -> Summary:
    """Start the two children (at once, or one after the other) and compare them."""
    with tempfile.TemporaryDirectory(prefix="pagesim-determinism-") as tmp:
        procs, outs, commands, repro, t0 = [], [], [], [], time.monotonic()
        for c in CHILDREN:
            out = os.path.join(tmp, f"{c['name']}.json")
            cmd = [sys.executable, os.path.abspath(__file__), "child", "--out", out,
                   "--seeds", str(seeds), "--explore-seeds", str(explore_seeds),
                   "--profile", profile, "--executions", str(executions),
                   "--workers", str(c["workers"]), "--scenarios", scenarios]
            if c["reverse"]:
                cmd.append("--reverse")
            env = dict(os.environ, PYTHONHASHSEED=c["hash_seed"])
            commands.append(f"{c['name']}: PYTHONHASHSEED={c['hash_seed']} "
                            f"{'reversed' if c['reverse'] else 'library order'}, "
                            f"workers={c['workers']}")
            shown = [a if a != out else f"{c['name']}.json" for a in cmd]
            repro.append(f"PYTHONHASHSEED={c['hash_seed']} {shlex.join(shown)}")
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            if not parallel:
                p.wait()
            procs.append((c["name"], cmd, env, p))
            outs.append(out)
        docs, failed = [], []
        for (name, cmd, env, p), out in zip(procs, outs):
            try:
                _, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            if p.returncode != 0 or not os.path.exists(out):
                failed.append(f"child {name} exited with {p.returncode}: "
                              f"PYTHONHASHSEED={env['PYTHONHASHSEED']} {' '.join(cmd)}\n{err}")
                continue
            with open(out) as f:
                docs.append(json.load(f))
        if failed:
            return Summary(problems=failed, commands=commands, repro=repro)
        s = compare(docs[0], docs[1])
        s.commands, s.repro = commands, repro
        s.seconds = {"A": docs[0]["seconds"], "B": docs[1]["seconds"],
                     "wall": time.monotonic() - t0}
        return s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", nargs="?", choices=["compare", "child", "diff"], default="compare",
                   help="compare (default): start two children and compare them; child: one "
                   "child (--out FILE); diff A.json B.json: compare two children's records")
    p.add_argument("files", nargs="*", help="diff: the two children's JSON files")
    p.add_argument("--seeds", type=int, default=int(os.environ.get("DETERMINISM_SEEDS", "200")),
                   help="run seeds 0..N-1 (default $DETERMINISM_SEEDS or 200)")
    p.add_argument("--explore-seeds", type=int,
                   default=int(os.environ.get("DETERMINISM_EXPLORE_SEEDS", "5")),
                   help="random and pct explorations with seeds 0..M-1")
    p.add_argument("--executions", type=int, default=200,
                   help="executions of each random and pct exploration")
    p.add_argument("--profile", choices=["quick", "big"], default="big")
    p.add_argument("--scenarios", default=SCENARIOS, help="the library directory")
    p.add_argument("--serial", action="store_true", help="run the children one at a time")
    p.add_argument("--json", help="compare: write the summary here")
    # child only
    p.add_argument("--out")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--reverse", action="store_true")
    args = p.parse_args(argv)
    if args.mode == "child":
        return child(args)
    if args.mode == "diff":
        if len(args.files) != 2:
            p.error("diff takes two JSON files")
        docs = []
        for path in args.files:
            with open(path) as f:
                docs.append(json.load(f))
        s = compare(docs[0], docs[1])
        s.commands = [f"{path}: PYTHONHASHSEED={d['hash_seed']} "
                      f"{'reversed' if d['reverse'] else 'library order'}, workers={d['workers']}"
                      for path, d in zip(args.files, docs)]
        s.seconds = {path: d["seconds"] for path, d in zip(args.files, docs)}
        print(s.text())
        return 0 if s.ok else 1
    s = run_children(args.seeds, args.explore_seeds, args.profile, args.executions,
                     args.scenarios, parallel=not args.serial)
    print(s.text())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: v for k, v in vars(s).items()}, f, indent=2)
    return 0 if s.ok else 1


if __name__ == "__main__":
    sys.exit(main())
