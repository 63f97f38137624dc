"""The schedule parser and the JSON readers with random, truncated, mutated and huge input.

Schedule("0x3 1x2"), Schedule.from_json, ExploreResult.from_json, cli.load_schedule (and
`pagesim replay FILE`). Oracle: a value or a one-line UsageError (StaleScheduleError is
one), in bounded time and memory (conftest's per-test address-space limit).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import pagesim as ps
from hostile import EDGES, texts
from hypothesis import given
from hypothesis import strategies as st
from oracle import Refused, attempt
from pagesim import _core, cli
from test_fuzz_cli import check_cli
from tiny_scenarios import tiny, tiny_scripted

WORK = tempfile.mkdtemp(prefix="pagesim-fuzz-parsers-")
MAX_STEPS = 100_000_000  # the parser's cap on a schedule's length

_DOCS: dict[str, str] = {}


def documents() -> dict[str, str]:
    """Valid documents of every kind, made once."""
    if not _DOCS:
        run = tiny_scripted.run()
        _DOCS["schedule"] = run.schedule.to_json()
        _DOCS["run"] = json.dumps(run.to_json())
        _DOCS["run_tiny"] = json.dumps(tiny.run(seed=3).to_json())
        ex = tiny.explore(executions=30, minimise=False)
        _DOCS["explore"] = ex.found.to_json() if hasattr(ex, "found") else json.dumps(ex.to_json())
        _DOCS["core_explore"] = tiny.build()[0].explore(executions=20).to_json()
    return _DOCS


# -- compact schedules ------------------------------------------------------------------------

counts = st.one_of(st.integers(0, 20), st.sampled_from(EDGES).map(abs))
token = st.one_of(
    st.tuples(st.integers(0, 300), st.one_of(st.none(), counts)).map(
        lambda t: f"{t[0]}" if t[1] is None else f"{t[0]}x{t[1]}"),
    st.sampled_from(["x", "0x", "x3", "-1", "0x-1", "0X3", "0x3x2", "1e3", "٣", "0x3.5", "+1",
                     "0x0", "00x003", " ", "\t", "\n", ":", ",", "0x99999999"]),
)
compact = st.one_of(
    st.lists(token, max_size=8).flatmap(
        lambda ts: st.sampled_from([" ", ":", "  ", ",", "\n"]).map(lambda sep: sep.join(ts))),
    texts,
)


@given(text=compact)
def test_compact_schedule(text: str) -> None:
    r = attempt(ps.Schedule, text, what="Schedule")
    if isinstance(r, Refused):
        return
    assert len(r) <= MAX_STEPS
    again = attempt(ps.Schedule, str(r), what="Schedule(str(s))")
    assert not isinstance(again, Refused) and again == r, (text, str(r))


@given(choices=st.lists(st.one_of(st.integers(-2, 300), st.sampled_from(EDGES),
                                  st.booleans(), st.none(), st.floats(), texts), max_size=20))
def test_schedule_from_a_list(choices: list[Any]) -> None:
    r = attempt(ps.Schedule, choices, what="Schedule(list)")
    if not isinstance(r, Refused):
        assert list(r.choices) == choices and all(type(c) is int for c in choices), choices


# -- JSON documents -------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.sampled_from(EDGES), st.floats(allow_nan=False),
              texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(texts, inner, max_size=3)),
    max_leaves=8,
)


def mutate_doc(doc: Any, data: st.DataObject) -> Any:
    """Replace, drop or add one field somewhere in a JSON document."""
    if isinstance(doc, dict) and doc:
        key = data.draw(st.sampled_from(sorted(doc)), label="key")
        op = data.draw(st.sampled_from(["replace", "drop", "recurse", "add"]), label="op")
        out = dict(doc)
        if op == "replace":
            out[key] = data.draw(json_values, label="value")
        elif op == "drop":
            del out[key]
        elif op == "recurse":
            out[key] = mutate_doc(doc[key], data)
        else:
            out[data.draw(texts, label="new key")] = data.draw(json_values, label="value")
        return out
    if isinstance(doc, list) and doc:
        i = data.draw(st.integers(0, len(doc) - 1), label="index")
        out = list(doc)
        out[i] = mutate_doc(doc[i], data)
        return out
    if isinstance(doc, str) and data.draw(st.booleans(), label="string edit"):
        return data.draw(st.one_of(compact, texts), label="string")
    return data.draw(json_values, label="value")


def mutate_text(text: str, data: st.DataObject) -> str:
    op = data.draw(st.sampled_from(["truncate", "flip", "insert", "nest", "huge_number",
                                    "none"]), label="text op")
    if op == "truncate":
        return text[: data.draw(st.integers(0, len(text)), label="cut")]
    if op == "flip" and text:
        i = data.draw(st.integers(0, len(text) - 1), label="at")
        return text[:i] + data.draw(st.characters(), label="char") + text[i + 1:]
    if op == "insert":
        i = data.draw(st.integers(0, len(text)), label="at")
        return text[:i] + data.draw(st.sampled_from(["{", "}", "[", "]", ",", '"', "\\", ":",
                                                     "\x00", "1e999999", "-0"]), label="ins") + text[i:]
    if op == "nest":
        depth = data.draw(st.sampled_from([10, 1000, 100_000]), label="depth")
        i = data.draw(st.integers(0, len(text)), label="at")
        return text[:i] + "[" * depth + "]" * depth + text[i:]
    if op == "huge_number":
        return text.replace("1", "9" * data.draw(st.sampled_from([20, 400, 5000]), label="digits"), 1)
    return text


def document(data: st.DataObject, kind: str) -> str:
    text = documents()[kind]
    if data.draw(st.booleans(), label="structural"):
        text = json.dumps(mutate_doc(json.loads(text), data))
    return mutate_text(text, data)


@given(data=st.data(), kind=st.sampled_from(["schedule", "run", "run_tiny"]))
def test_schedule_from_json(data: st.DataObject, kind: str) -> None:
    attempt(ps.Schedule.from_json, document(data, kind), what="Schedule.from_json")


@given(data=st.data(), kind=st.sampled_from(["core_explore"]))
def test_explore_result_from_json(data: st.DataObject, kind: str) -> None:
    r = attempt(_core.ExploreResult.from_json, document(data, kind), what="ExploreResult.from_json")
    if not isinstance(r, Refused):
        attempt(r.to_json, what="ExploreResult.to_json")


@given(data=st.data(), kind=st.sampled_from(["schedule", "run", "run_tiny"]),
       raw=st.one_of(st.none(), st.binary(max_size=64)))
def test_load_and_replay_schedule_files(data: st.DataObject, kind: str, raw: bytes | None) -> None:
    """`pagesim replay FILE`: load_schedule and replay report a CliError (exit 2), one line."""
    path = os.path.join(WORK, "schedule.json")
    body = raw if raw is not None else document(data, kind).encode("utf-8", "surrogatepass")
    with open(path, "wb") as f:
        f.write(body)
    try:
        attempt(cli.load_schedule, path, what="load_schedule")
    except cli.CliError as e:  # what `pagesim replay` reports, exit status 2
        assert str(e) and "\n" not in str(e).strip(), f"load_schedule: {e}"
    check_cli(["replay", path])
