"""The pagesim command line: run, replay and draw scenarios.

    pagesim list FILE.py
    pagesim run FILE.py[::name] [--kernel PRESET] [--fix NAME=on|off] [--seed N]
                [--strategy random|timed] [--schedule S] [--json OUT] [--diagram] [--trace]
                [--depth D] [--width W] [--perfetto OUT] [--no-strict]
    pagesim replay FILE.json [--outcome KEY] [--json OUT] [--diagram] [--depth D] [--width W]
    pagesim diagram FILE.json [--outcome KEY] [--depth D] [--width W]
    pagesim explore FILE.py[::name] [--strategy random|pct|dfs|dpor] [--executions N]
                    [--seconds S] [--seed N] [--workers N] [--ray [ADDRESS]]
                    [--preemption-bound K|none|iterative] [--pct-depth D] [--no-progress]
                    [--json OUT]
    pagesim presets
    pagesim fixes [--between OLD NEW]
    pagesim functions [--kernel PRESET] [--fix NAME=on|off]

Exit status: 0 when every run ended ok, 1 when one ended with any other outcome, 2 for a
usage error (bad arguments, unknown scenario or name, stale schedule, a script step that
never matched), 130 when Ctrl-C stopped an exploration (it prints and writes --json with
what it found, "interrupted": true).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from . import _core
from .names import outcome_matches
from .scenario import Run, Scenario, load_scenarios, param_text, parse_param, variant_name


class CliError(Exception):
    """A usage error: reported on stderr, exit status 2."""


def pick(target: str, params: list[str] | None = None) -> list[Scenario]:
    """FILE.py::name, or FILE.py for all its scenarios; a scenario with parameters gives
    each variant, or the one `params` (NAME=VALUE items) binds."""
    path, _, name = target.partition("::")
    found = load_scenarios(path)
    if name and name not in found:
        raise CliError(f"{path} has no scenario {name!r} (it has: {', '.join(sorted(found))})")
    picked = [found[name]] if name else list(found.values())
    if not params:
        return [v for sc in picked for v in sc.variants()]
    if len(picked) != 1:
        raise CliError("--param binds one scenario's parameters: name it (FILE.py::name)")
    return [picked[0].bind(**dict(parse_param(p) for p in params))]


def preemption_bound(text: str) -> int | None | str:
    """--preemption-bound: K, none or iterative."""
    if text in ("none", "iterative"):
        return None if text == "none" else text
    try:
        k = int(text)
    except ValueError:
        k = -1
    if k < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use a bound K >= 0, none or iterative")
    return k


def parse_fixes(items: list[str]) -> dict[str, bool]:
    fixes = {}
    for item in items:
        name, _, value = item.partition("=")
        if value not in ("", "on", "off"):
            raise CliError(f"--fix {item}: use NAME, NAME=on or NAME=off")
        fixes[name] = value != "off"
    return fixes


def show(run: Run, args: argparse.Namespace) -> None:
    counts = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in run.outcome_counts.items())
    print(
        f"{run.scenario.name} [{run.preset}]: {counts}  ({run.steps} steps, "
        f"trace hash {run.trace_hash:016x})"
    )
    if not run.ok or run.unmatched_steps:
        print(run.report())
    if getattr(args, "diagram", False):
        print()
        print(run.diagram(depth=args.depth, width=args.width))
    if getattr(args, "trace", False):
        print(run.result.trace_text())
    print(f"schedule: {run.result.schedule}")


def write_json(docs: list[dict[str, Any]], out: str | None, schema: str) -> None:
    """One document as it is, several under `schema`; to a file, or stdout for '-'."""
    if not out:
        return
    doc: Any = docs[0] if len(docs) == 1 else {"schema": schema, "runs": docs}
    text = json.dumps(doc, indent=2, sort_keys=True)
    if out == "-":
        print(text)
    else:
        try:
            with open(out, "w") as f:
                f.write(text + "\n")
        except OSError as e:  # a directory, a missing directory, no permission
            raise CliError(f"cannot write {out}: {e.strerror}") from e


def cmd_list(args: argparse.Namespace) -> int:
    for name, sc in sorted(load_scenarios(args.file).items()):
        opts = sc.options
        first = sc.doc.splitlines()[0] if sc.doc else ""
        print(f"{args.file}::{name}  [{opts['kernel']}, {opts['cpus']} cpus]  {first}")
        for param, values in sc.params.items():
            print(f"    --param {' | '.join(param_text(param, v) for v in values)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    runs = []
    picked = pick(args.target, args.param)
    if args.perfetto and len(picked) > 1:
        raise CliError("--perfetto writes one run: name the scenario (FILE.py::name) and "
                       "its variant (--param)")
    for sc in picked:
        schedule = _core.Schedule(args.schedule) if args.schedule else None
        runs.append(
            sc.run(
                kernel=args.kernel,
                fixes=parse_fixes(args.fix),
                seed=args.seed,
                strategy=args.strategy,
                schedule=schedule,
                strict=not args.no_strict,
            )
        )
    for r in runs:
        show(r, args)
    write_json([r.to_json(trace=args.trace) for r in runs], args.json, "pagesim.runs/1")
    if args.perfetto:
        try:
            runs[0].to_perfetto(args.perfetto)
        except OSError as e:
            raise CliError(f"cannot write {args.perfetto}: {e.strerror}") from e
    return 0 if all(r.ok for r in runs) else 1


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped
MAX_SCHEDULE_FILE = 256 * 2**20  # bytes: a schedule of 100,000,000 steps fits


def load_schedule(path: str, outcome: str | None = None) -> _core.Schedule:
    """A schedule, run or exploration JSON file (an exploration's example of `outcome`, by
    default its first failure); any problem with it is a CliError (exit 2), one line."""
    return _load(path, outcome)[0]


def _load(path: str, outcome: str | None) -> tuple[_core.Schedule, bool]:
    """load_schedule, and whether the file was an exploration's."""
    try:
        if os.path.getsize(path) > MAX_SCHEDULE_FILE:
            raise CliError(f"{path} is larger than {MAX_SCHEDULE_FILE >> 20} MiB: not a schedule")
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise CliError(f"{path} is not UTF-8 text (byte {e.start}): not a schedule") from e
    try:
        return _schedule_of(text, outcome)
    except (ValueError, AttributeError, TypeError, KeyError) as e:  # ValueError: JSON, a 5000-digit int
        raise CliError(f"{path} is not a pagesim schedule, run or exploration: {e}") from e
    except RecursionError as e:  # json.loads of a document nested thousands deep
        raise CliError(f"{path} is not a pagesim schedule or run: nested too deeply") from e
    except _core.UsageError as e:
        raise CliError(f"{path}: {e}") from e


def _schedule_of(text: str, outcome: str | None) -> tuple[_core.Schedule, bool]:
    doc = json.loads(text) if text.strip().startswith("{") else None
    schema = doc.get("schema") if doc is not None else None
    if schema == "pagesim.explores/1":
        doc, schema = _exploration_with(doc["runs"], outcome), "pagesim.explore/1"
    if schema == "pagesim.explore/1":
        return _schedule_in(doc, _example(doc, outcome), ""), True
    if outcome is not None:
        raise CliError("--outcome picks an exploration's example; this is a "
                       + ("run" if schema == "pagesim.run/1" else "schedule"))
    if schema == "pagesim.run/1":
        # A run result: its schedule and what it was recorded against.
        return _schedule_in(doc, doc.get("schedule", ""), doc.get("trace_hash", "")), False
    return _core.Schedule.from_json(text), False


def _schedule_in(doc: dict[str, Any], schedule: str, trace_hash: str) -> _core.Schedule:
    """A schedule of the scenario, preset and fixes a run or exploration document names."""
    return _core.Schedule.from_json(json.dumps({
        "schema": "pagesim.schedule/1",
        "pagesim_version": doc.get("pagesim_version"),
        "schedule": schedule,
        "meta": {
            "scenario": doc.get("scenario", ""),
            "scenario_file": doc.get("file", ""),
            "preset": doc.get("preset", ""),
            "fixes": json.dumps(doc.get("fixes", {}), sort_keys=True),
            **({"params": json.dumps(doc["params"], sort_keys=True)} if doc.get("params")
               else {}),
            "source_hash": doc.get("source_hash", ""),
            "trace_hash": trace_hash,
        },
    }))


def _doc_name(doc: dict[str, Any]) -> str:
    """A run or exploration document's scenario, with its variant's parameters."""
    return variant_name(doc["scenario"], doc.get("params") or {})


def _outcome_list(doc: dict[str, Any]) -> str:
    return ", ".join(sorted(doc["examples"]))


def _example(doc: dict[str, Any], outcome: str | None) -> str:
    """The exploration's schedule for `outcome` (a key, or a kind with one key), or its
    first failure (minimised when the exploration minimised it)."""
    examples: dict[str, str] = doc["examples"]
    if outcome is None:
        first = doc.get("first_failure")
        if first:
            return str(first["schedule"])
        failed = [k for k in examples if k != "ok"]
        if not failed:
            raise CliError(f"every execution was ok; --outcome ok replays one "
                           f"(outcomes: {_outcome_list(doc)})")
        outcome = min(failed, key=lambda k: doc["first_seen"].get(k, 0))
    keys = [k for k in examples if k == outcome] or [
        k for k in examples if outcome_matches(k, outcome)]
    if len(keys) != 1:
        what = "no execution had" if not keys else f"{len(keys)} outcomes match"
        raise CliError(f"{what} outcome {outcome!r} in {_doc_name(doc)} [{doc['preset']}] "
                       f"(outcomes: {_outcome_list(doc)})")
    return examples[keys[0]]


def _exploration_with(runs: list[dict[str, Any]], outcome: str | None) -> dict[str, Any]:
    """The one exploration of several that has `outcome` (or any failure)."""
    def has(doc: dict[str, Any]) -> bool:
        keys = list(doc["examples"])
        if outcome is None:
            return any(k != "ok" for k in keys)
        return any(outcome_matches(k, outcome) for k in keys)

    found = [doc for doc in runs if has(doc)]
    if len(found) != 1:
        names = ", ".join(f"{_doc_name(d)} [{d['preset']}]" for d in found or runs)
        what = f"outcome {outcome!r}" if outcome else "a failure"
        raise CliError(f"{len(found)} of its {len(runs)} explorations have {what} ({names}): "
                       "write one exploration per --json file")
    return found[0]


def _meta_dict(path: str, meta: dict[str, str], key: str) -> dict[str, Any]:
    """A schedule's fixes or params: a JSON dict, or a CliError."""
    try:
        value = json.loads(meta.get(key, "{}") or "{}")
    except (json.JSONDecodeError, RecursionError) as e:
        raise CliError(f"{path}: its {key} are not JSON: {meta[key][:60]!r}") from e
    if not isinstance(value, dict):
        raise CliError(f"{path}: its {key} are not a dict: {meta[key][:60]!r}")
    return value


def replay(path: str, seed: int = 0, outcome: str | None = None) -> Run:
    sched, explored = _load(path, outcome)
    meta = sched.meta
    if not meta.get("scenario") or not meta.get("scenario_file"):
        raise CliError(f"{path} does not say which scenario it was recorded for")
    params = _meta_dict(path, meta, "params")
    sc = load_scenarios(meta["scenario_file"]).get(meta["scenario"])
    if sc is None:
        raise CliError(f"{meta['scenario_file']} has no scenario {meta['scenario']!r}")
    sc = sc.bind(**params) if params else sc
    fixes = _meta_dict(path, meta, "fixes")
    # An exploration's example replays as the exploration ran it: an exception in a task
    # is an outcome.
    return sc.run(kernel=meta.get("preset") or None, fixes=fixes, seed=seed, schedule=sched,
                  errors_as_outcomes=explored)


def cmd_replay(args: argparse.Namespace) -> int:
    run = replay(args.schedule, outcome=args.outcome)
    show(run, args)
    write_json([run.to_json()], args.json, "pagesim.runs/1")
    return 0 if run.ok else 1


def cmd_diagram(args: argparse.Namespace) -> int:
    run = replay(args.schedule, outcome=args.outcome)
    print(run.diagram(depth=args.depth, width=args.width))
    return 0 if run.ok else 1


def cmd_explore(args: argparse.Namespace) -> int:
    results = []
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    for sc in pick(args.target, args.param):
        ex = sc.explore(
            kernel=args.kernel,
            fixes=parse_fixes(args.fix),
            strategy=args.strategy,
            executions=args.executions,
            seconds=args.seconds,
            budget=args.budget,
            seed=args.seed,
            preemption_bound=args.preemption_bound,
            pct_depth=args.pct_depth,
            workers=args.workers,
            backend="ray" if args.ray is not None else "local",
            ray_address=args.ray or None,
            progress=progress,
        )
        results.append(ex)
        print(
            f"{sc.name} [{ex.preset}] {args.strategy}: {ex.executions} executions in "
            f"{ex.seconds:.2f} s ({ex.rate:.0f}/s, {args.workers} worker"
            f"{'s' if args.workers > 1 else ''})"
            + (f", {ex.redundant} redundant cut short" if ex.redundant else "")
            + (f", {ex.repeated} repeated at a higher bound" if ex.repeated else "")
        )
        print(f"  scope: {ex.scope}")
        for key, n in sorted(ex.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {key:40} {n:8}")
        f, first = ex.first_failure, ex.found.first_failing()
        if f is not None:
            print(
                f"first failure {f.key}: {f.preemptions} preemption"
                f"{'' if f.preemptions == 1 else 's'}, {f.steps} steps; replay with\n"
                f"  {ex.replay_command()}"
            )
        elif first is not None:
            print(f"first failure {first.key} (not minimised); replay with\n"
                  f"  {ex.replay_command()}")
        if ex.interrupted:
            print(f"interrupted after {ex.executions} executions: the outcomes found so far")
            break
    write_json([e.to_json() for e in results], args.json, "pagesim.explores/1")
    if results and results[-1].interrupted:
        return EXIT_INTERRUPTED
    return 0 if all(set(e.outcomes) == {"ok"} for e in results) else 1


def cmd_presets(args: argparse.Namespace) -> int:
    for p in _core.presets():
        print(f"{p['name']:12} {p['title']}")
        if p["base"]:
            added, removed = fix_changes(p["base"], p["name"])
            print(f"{'':12} {p['base']} " + ", ".join(
                [f"+{f}" for f in added] + [f"-{f}" for f in removed]))
        else:
            print(f"{'':12} fixes: {', '.join(p['fixes']) or '(none)'}")
        print(f"{'':12} follows: {p['follows']}")
    print("\nfixes:")
    for f in _core.fixes():
        print(f"  {f['name']:28} {f['title']}")
    return 0


def preset_fixes(name: str) -> set[str]:
    """The named fixes a preset has; a UsageError (with near matches) for an unknown one."""
    _core.model_functions(name, {})  # raises for an unknown preset
    return next(set(p["fixes"]) for p in _core.presets() if p["name"] == name)


def fix_changes(old: str, new: str) -> tuple[list[str], list[str]]:
    """The fixes preset `new` adds to `old`, and those it removes, in the fixes' order."""
    had, has = preset_fixes(old), preset_fixes(new)
    order = [f["name"] for f in _core.fixes()]
    return [f for f in order if f in has - had], [f for f in order if f in had - has]


def cmd_fixes(args: argparse.Namespace) -> int:
    fixes = _core.fixes()
    titles = {f["name"]: f["title"] for f in fixes}
    if not args.between:
        for f in fixes:
            needs = f" (needs {', '.join(f['needs'])})" if f["needs"] else ""
            removed = f" (code removed by {f['removed_by']})" if f["removed_by"] else ""
            print(f"{f['name']:28} {f['title']}{needs}{removed}")
        return 0
    old, new = args.between
    added, removed = fix_changes(old, new)
    print(f"{old} -> {new}: {len(added)} added, {len(removed)} removed")
    for sign, names in (("+", added), ("-", removed)):
        for name in names:
            print(f"  {sign} {name:28} {titles[name]}")
    return 0


def cmd_functions(args: argparse.Namespace) -> int:
    for name in _core.model_functions(args.kernel, parse_fixes(args.fix)):
        print(f"{name:32} {_core.model_function_file(name)}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its error on one line: an argument it echoes may hold a newline."""

    def error(self, message: str):  # type: ignore[override]
        super().error("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


def add_diagram_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--depth", type=int, default=3,
                   help="diagram: levels of model functions shown under each entry point")
    s.add_argument("--width", type=int, default=34,
                   help="diagram: characters per CPU column (longer lines wrap)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pagesim", description="Run, replay and draw pagesim scenarios."
    )
    p.add_argument("--version", action="version", version=f"pagesim {_core.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list the scenarios of a file")
    s.add_argument("file", help="a scenario file (FILE.py)")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("run", help="run a scenario (or every scenario of a file)")
    s.add_argument("target", help="FILE.py or FILE.py::name")
    s.add_argument("--kernel", help="kernel preset (default: the scenario's)")
    s.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME[=on|off]",
        help="flip a named fix on top of the preset (repeatable)",
    )
    s.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="bind a scenario parameter (repeatable; VALUE is JSON or text); "
                        "without it, each variant of a scenario with parameters")
    s.add_argument("--seed", type=int, default=0,
                   help="seed of the strategy for the schedule's unscripted choices")
    s.add_argument("--strategy", default="random", choices=["random", "timed"],
                   help="who runs next after the script: random, or timed (the CPU whose "
                        "simulated clock is earliest)")
    s.add_argument("--schedule", help="replay this compact schedule ('0x3 1 0x2')")
    s.add_argument("--json", metavar="OUT", help="write the result as JSON ('-': stdout)")
    s.add_argument("--diagram", action="store_true", help="print the CPU-column diagram")
    add_diagram_options(s)
    s.add_argument("--trace", action="store_true", help="print (and put in the JSON) the trace")
    s.add_argument("--perfetto", metavar="OUT",
                   help="write the run as Chrome trace-event JSON for ui.perfetto.dev")
    s.add_argument("--no-strict", action="store_true",
                   help="a script step that never matched is listed (unmatched_steps), not an "
                        "error")
    s.set_defaults(func=cmd_run)

    outcome_help = ("with an exploration's JSON (explore --json): replay its example of "
                    "this outcome (a key such as oops:zs_page_isolate, or a kind); default: "
                    "its first failure")
    s = sub.add_parser("replay", help="replay a schedule, run or exploration JSON file")
    s.add_argument("schedule", help="a schedule (.pagesim/failures/), run --json or "
                                    "explore --json file")
    s.add_argument("--outcome", metavar="KEY", help=outcome_help)
    s.add_argument("--json", metavar="OUT", help="write the replayed run as JSON ('-': stdout)")
    s.add_argument("--diagram", action="store_true", help="print the CPU-column diagram")
    add_diagram_options(s)
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("diagram", help="draw the run a schedule, run or exploration JSON "
                                       "file records")
    s.add_argument("schedule", help="a schedule, run --json or explore --json file")
    s.add_argument("--outcome", metavar="KEY", help=outcome_help)
    add_diagram_options(s)
    s.set_defaults(func=cmd_diagram)

    s = sub.add_parser("explore", help="run a scenario under many schedules: its outcome set")
    s.add_argument("target", help="FILE.py or FILE.py::name")
    s.add_argument("--kernel", help="kernel preset (default: the scenario's)")
    s.add_argument("--fix", action="append", default=[], metavar="NAME[=on|off]",
                   help="flip a named fix on top of the preset (repeatable)")
    s.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="bind a scenario parameter (repeatable; VALUE is JSON or text); "
                        "without it, each variant of a scenario with parameters")
    s.add_argument("--strategy", default="random", choices=["random", "pct", "dfs", "dpor"],
                   help="random or pct sample schedules; dfs runs every schedule, dpor one "
                        "per Mazurkiewicz trace (both can exhaust a scope)")
    s.add_argument("--executions", type=int, default=None,
                   help="budget of executions (default unless --seconds is given: 1000 for "
                        "random and pct, 100000 for dfs and dpor)")
    s.add_argument("--seconds", type=float, default=None, help="budget of wall-clock seconds")
    s.add_argument("--budget", default=None, metavar="N|TIME|N,TIME",
                   help="the budget in one: 20000, 30s, 5min, 1h or 20000,30s")
    s.add_argument("--seed", type=int, default=0,
                   help="random and pct: execution i uses seed + i")
    s.add_argument("--workers", type=int, default=1, help="processes (or Ray tasks) to use")
    s.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the workers on a Ray cluster (default: start a local one)")
    s.add_argument("--preemption-bound", type=preemption_bound, default="iterative",
                   metavar="K|none|iterative",
                   help="dfs, dpor: cover bound 0, 1, 2, ... in turn (iterative, the default), "
                        "only schedules within K preemptions, or every schedule (none)")
    s.add_argument("--pct-depth", type=int, default=3, help="pct: bug depth d")
    s.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="draw a progress line on stderr (default: when it is a terminal)")
    s.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar, also on a terminal")
    s.add_argument("--json", metavar="OUT",
                   help="write the outcome set, examples and first failure as JSON ('-': "
                        "stdout); Ctrl-C writes what was found, \"interrupted\": true")
    s.set_defaults(func=cmd_explore)

    s = sub.add_parser("functions", help="list the model functions breakpoints can name")
    s.add_argument("--kernel", help="only those this preset has")
    s.add_argument("--fix", action="append", default=[], metavar="NAME[=on|off]",
                   help="with --kernel: flip a named fix on top of the preset (repeatable)")
    s.set_defaults(func=cmd_functions)

    s = sub.add_parser("presets", help="list kernel presets and named fixes")
    s.set_defaults(func=cmd_presets)

    s = sub.add_parser("fixes", help="list the named fixes, or those between two presets")
    s.add_argument("--between", nargs=2, metavar=("OLD", "NEW"),
                   help="the fixes NEW has and OLD lacks (+), and those OLD has and NEW lacks (-)")
    s.set_defaults(func=cmd_fixes)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) if e.code in (0, None) else 2
    try:
        return int(args.func(args))
    except (CliError, _core.UsageError) as e:
        print(f"pagesim: {one_line(str(e))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `pagesim ... | head`: the reader has gone, say no more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def one_line(text: str, limit: int = 1000) -> str:
    """A message as one line of bounded length, whatever it quotes from a file."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


if __name__ == "__main__":
    sys.exit(main())
