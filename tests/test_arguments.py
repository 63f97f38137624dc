"""Bad arguments are one-line UsageErrors before any work starts (issue 15, F4 and F12)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys

import pagesim as ps
import pytest

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


def test_replay_of_a_bad_file_is_one_line_and_exit_2(tmp_path) -> None:
    # F11: malformed or non-UTF-8 JSON printed a traceback and exited 1.
    import subprocess

    files = {
        "bad.json": b"{not json",
        "binary.json": b"\xff\xfe\x00bad",
        "list.json": b"[1, 2]",
        "huge_count.json": b'{"schema": "pagesim.schedule/1", "schedule": "0x999999999"}',
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        r = subprocess.run([sys.executable, "-m", "pagesim.cli", "replay", str(tmp_path / name)],
                           capture_output=True, text=True, check=False)
        assert r.returncode == 2, (name, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("pagesim: "), \
            (name, r.stderr)


def test_a_schedule_string_cannot_ask_for_gigabytes() -> None:
    with pytest.raises(ps.UsageError, match="schedule longer than 100000000 steps"):
        ps.Schedule("0x999999999")
    with pytest.raises(ps.UsageError, match="schedule longer than"):
        ps.Schedule(" ".join(["0x99999999"] * 2))
    assert len(ps.Schedule("0x3 1x2")) == 5


def test_a_run_json_replays_with_its_source_and_trace_hash(tmp_path) -> None:
    import json
    import subprocess

    target = os.path.join(os.path.dirname(os.path.dirname(__file__)), "scenarios",
                          "zs_free_double_isolation.py::zs_free_double_isolation")
    out = tmp_path / "run.json"
    r = subprocess.run([sys.executable, "-m", "pagesim.cli", "run", target, "--json", str(out)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1  # the oops
    doc = json.loads(out.read_text())
    assert doc["source_hash"] == ZS_FREE.source_hash
    again = subprocess.run([sys.executable, "-m", "pagesim.cli", "replay", str(out)],
                           capture_output=True, text=True, check=False)
    assert again.returncode == 1 and doc["trace_hash"] in again.stdout
    doc["trace_hash"] = "0" * 16
    out.write_text(json.dumps(doc))
    stale = subprocess.run([sys.executable, "-m", "pagesim.cli", "replay", str(out)],
                           capture_output=True, text=True, check=False)
    assert stale.returncode == 2 and "the model changed since it was recorded" in stale.stderr


def test_a_failed_set_up_call_leaves_the_initial_state_as_it_was() -> None:
    # F9: compaction at set-up isolated a page, then found its lock held and raised:
    # the page stayed isolated, and every later run started from that.
    k = ps.Kernel(pages=1024)
    pid = k.process("p")
    k.fault_in(pid, 8)
    pfn = k.state.process_pages(pid)[3]
    k.call("lock_page", pfn)

    def snapshot():
        s = k.state
        return [s.page(p) for p in range(s.nr_pages)], s.stats

    before = snapshot()
    with pytest.raises(ps.UsageError, match="set-up code found page lock page pfn"):
        k.call("compact_page", pfn)
    assert snapshot() == before
    k.call("unlock_page", pfn)
    assert k.run().ok  # the state runs clean: no half-done set-up left behind


def test_a_lock_or_counter_made_by_a_running_task_is_refused() -> None:
    # F2: it was indexed in the run's copy of the state, which does not have it: a heap
    # out-of-bounds read and write.
    m = ps.Machine(cpus=1)

    def task():
        late = m.counter("late")
        yield late.add(1)

    m.spawn(0, task)
    with pytest.raises(ps.UsageError, match="a counter is created at set-up, not by a running"):
        m.run()

    def locker():
        lock = m.mutex("late lock")
        yield lock.lock()

    m2 = ps.Machine(cpus=1)
    m2.spawn(0, locker)
    with pytest.raises(ps.UsageError, match="a lock is created at set-up"):
        m2.run()
    ex = m2.explore(strategy="random", executions=5, minimise=False)
    assert set(ex.outcomes) == {"exception:UsageError"}


def test_64_bit_values_are_never_truncated_to_32() -> None:
    # F7: pfn 2**32 + k was taken as pfn k, pages=2**32 + 512 made 512 pages, and
    # unmap(pid, 2**32) unmapped virtual page 0.
    k = ps.Kernel(pages=1024)
    pid = k.process("p")
    k.fault_in(pid, 4)
    with pytest.raises(ps.UsageError, match=r"pfn 4294967301 out of range"):
        k.call("get_page", 2**32 + 5)
    with pytest.raises(ps.UsageError, match=r"pfn 4294967301 out of range"):
        k.state.page(2**32 + 5)
    with pytest.raises(ps.UsageError, match=r"vpage must be 0..2\^32-1, got 4294967296"):
        k.call("unmap", pid, 2**32)
    assert k.state.process_pages(pid)[0] is not None  # virtual page 0 still mapped
    with pytest.raises(ps.UsageError, match=r"npages must be 0..2\^32-1"):
        k.call("fault_in", pid, 2**32 + 1)
    with pytest.raises(ps.UsageError, match="pages must be at most 8388608"):
        ps.Kernel(pages=2**32 + 512)
    with pytest.raises(ps.UsageError, match="has bits outside __GFP_BITS_MASK"):
        k.call("alloc_pages", 0, 2**32 + 0xC0)
    with pytest.raises(ps.UsageError, match="has bits outside __GFP_BITS_MASK"):
        k.alloc_pages(0, 1 << 30)
    assert k.alloc_pages(0, int(ps.GFP["GFP_KERNEL"])) is not None


def test_interned_names_have_no_process_lifetime_limit() -> None:
    # F10: the process-wide table held 65,536 names; past that, every run failed.
    for i in range(70_000):
        ps.check(True, f"property_{i}")
    run = ZS_FREE.run(kernel="v4.8")
    assert run.ok

    @ps.scenario(kernel="v4.8", cpus=1)
    def named(k):
        def task():
            yield ps.check(False, "property_69999", "the last one")

        k.cpu(0).run(task)

    assert named.run().outcome_counts == {"check:property_69999": 1}


def test_fixes_take_true_or_false_with_a_usage_error_otherwise() -> None:
    # F12: fixes={"x": "off"} was a raw pybind11 TypeError listing constructor signatures.
    for bad in ({"c102f07ca0b0": "off"}, {"c102f07ca0b0": 1}, {3: True}):
        with pytest.raises(ps.UsageError, match="fixes maps a fix name to True or False"):
            ps.Kernel(fixes=bad)
        with pytest.raises(ps.UsageError, match="fixes maps a fix name to True or False"):
            ZS_FREE.run(fixes=bad)
    assert ps.Kernel(fixes={"c102f07ca0b0": False}).state.fixes["c102f07ca0b0"] is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda k: ps.Kernel(pages=2**70), "Kernel: pages must be an int between"),
        (lambda k: ps.Kernel(pages=1024.0), "Kernel: pages must be an int between"),
        (lambda k: ps.Kernel(cpus=-1), "Kernel: cpus must be an int between 0 and 2^32-1, not -1"),
        (lambda k: ps.Kernel(trace=None), "Kernel: trace must be True or False, not None"),
        (lambda k: ps.Kernel(preset=3), "Kernel: preset must be a string, not 3"),
        (lambda k: ps.Kernel(zones=5), "Kernel: zones must be a list of (name, pages, migratetype)"),
        (lambda k: ps.Kernel(bogus=1), "Kernel: no argument 'bogus'"),
        (lambda k: ps.Machine(window=-5), "Machine: window must be an int between 0 and 2^64-1 or None"),
        (lambda k: k.state.page(2**70), "KernelState.page: pfn must be an int between -2^63 and 2^63-1, not 2**70"),
        (lambda k: k.state.page(True), "KernelState.page: pfn must be an int"),
        (lambda k: k.state.page("3"), "KernelState.page: pfn must be an int"),
        (lambda k: k.alloc_pages(2**40), "Kernel.alloc_pages: order must be an int between 0 and 2^32-1"),
        (lambda k: k.free_pages(5, -1), "Kernel.free_pages: order must be an int between 0 and 2^32-1"),
        (lambda k: k.fault_in(0, 1.5), "Kernel.fault_in: npages must be an int"),
        (lambda k: k.process(None), "Kernel.process: name must be a string, not None"),
        (lambda k: k.process(b"p"), "Kernel.process: name must be a string, not b'p'"),
        (lambda k: k.run(seed=2**64), "Machine.run: seed must be an int between 0 and 2^64-1"),
        (lambda k: k.explore(executions=1.5), "Machine.explore: executions must be an int"),
        (lambda k: k.explore(seconds=math.nan), "Machine.explore: seconds must be a finite number"),
        (lambda k: k.counter("c", 2**64), "Machine.counter: value must be an int between -2^63"),
        (lambda k: ps.Schedule(["0"]), "schedule entries must be CPU numbers"),
        (lambda k: ps.delay(None), "delay: ns must be an int"),
        (lambda k: ps.Schedule.from_json(5), "Schedule.from_json: argument 1 must be a string"),
        (lambda k: k.state.page(), "KernelState.page: missing argument 'pfn'"),
        (lambda k: k.state.page(1, 2), "KernelState.page: takes at most 1 positional argument"),
    ],
    ids=lambda v: "" if callable(v) else v.split(":")[0],
)
def test_wrong_types_and_ints_beyond_64_bits_are_usage_errors(call, message) -> None:
    # pybind11 answered these with a raw TypeError listing C++ signatures, or took True
    # as 1, None as False and bytes as a string (issue 15, fuzzing).
    k = ps.Kernel(pages=1024)
    with pytest.raises(ps.UsageError) as e:
        call(k)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # ps.call and Kernel.spawn took ints beyond 64 bits to pybind11's "Unable to cast"
        # RuntimeError, and the functions a Python task calls at every step took a wrong
        # type to a raw TypeError (or bytes as a string, or False as 0 ns).
        (lambda k: k.spawn(0, "get_page", 2**63), "get_page: arguments must be integers between -2^63 and 2^63-1"),
        (lambda k: k.call("get_page", -(2**63) - 1), "get_page: arguments must be integers between"),
        (lambda k: ps.call("get_page", 2**64), "get_page: arguments must be integers between"),
        (lambda k: ps.call(b"get_page", 1), "call: entry must be a string, not b'get_page'"),
        # A gfp argument may be flags by name; other arguments are integers.
        (lambda k: ps.call("alloc_pages", 0, "GFP_KERNEL|__GFP_NOPE"), "unknown gfp flag '__GFP_NOPE'"),
        (lambda k: ps.call("alloc_pages", "0", "GFP_KERNEL"), "alloc_pages: arguments must be integers, got '0'"),
        (lambda k: ps.vmstat("\udcff"), "vmstat: name must be a string of UTF-8 text"),
        (lambda k: ps.delay(False), "delay: ns must be an int between 0 and"),
        (lambda k: ps.delay(2**64), "delay: ns must be an int between 0 and"),
        (lambda k: ps.bug(b""), "bug: message must be a string, not b''"),
        (lambda k: ps.warn(None), "warn: message must be a string, not None"),
        (lambda k: ps.check(True, "c", 5), "check: message must be a string, not 5"),
        (lambda k: k.counter("c").add(2**63), "Counter.add: delta must be an int between"),
        (lambda k: k.counter("c").set(1.5), "Counter.set: value must be an int between"),
        # A missing, extra or unknown argument was pybind11's multi-line list of signatures.
        (lambda k: ps.delay(), "delay: ns is missing"),
        (lambda k: ps.delay(1, 2), "delay: takes 1 argument, not 2"),
        (lambda k: ps.delay(1, ns=2), "delay: ns given twice"),
        (lambda k: ps.delay(nanoseconds=2), "delay: no argument named 'nanoseconds'"),
        (lambda k: ps.check(True), "check: name is missing"),
        (lambda k: ps.check(True, "c", "m", 4), "check: takes at most 3 arguments, not 4"),
        (lambda k: ps.bug(), "bug: message is missing"),
        (lambda k: ps.warn(msg="x"), "warn: no argument named 'msg'"),
        (lambda k: ps.vmstat(), "vmstat: name is missing"),
        (lambda k: ps.call(), "call: entry is missing"),
        (lambda k: ps.call("compact_page", pfn=3), "call: no argument named 'pfn'"),
        (lambda k: k.counter("c").set(), "Counter.set: value is missing"),
        (lambda k: k.counter("c").add(1, 2), "Counter.add: takes at most 1 argument, not 2"),
        (lambda k: k.counter("c").read(0), "Counter.read: takes 0 arguments, not 1"),
        (lambda k: k.mutex("m").lock(0), "Lock.lock: takes 0 arguments, not 1"),
        (lambda k: k.mutex("m").unlock(now=True), "Lock.unlock: no argument named 'now'"),
        # A lone surrogate in a compact schedule: a raw RuntimeError.
        (lambda k: ps.Schedule("0x3 \udcff"), "Schedule: schedule must be a string of UTF-8 text"),
        # zones= had no limit on the total: 2^31 pages was a MemoryError (or the OOM killer).
        (lambda k: ps.Kernel(zones=[("Normal", 2**31, "MOVABLE")]), "zones must have at most 8388608 pages"),
        (lambda k: ps.Kernel(zones=[("Z", 512, "MOVABLE")] * 20000), "zones must have at most 8388608 pages"),
        # A script step of the wrong shape was pybind11's "Unable to cast" RuntimeError.
        (lambda k: k.run(script=[5]), "a script step is (cpu, until, function, obj, count[, stop])"),
        (lambda k: k.run(script=5), "script must be a list of (cpu, until, function, obj, count"),
        (lambda k: k.run(script=[(0, "done", None, None, 2**64)]), "obj and count must be ints between 0 and 2^64-1"),
        (lambda k: k.run(script=[(2**70, "done", None, None, 1)]), "script step on cpu 1180591620717411303424"),
        (lambda k: k.run(script=[(0, "done", None, None, 1, "yes")]), "a script step is"),
    ],
    ids=lambda v: "" if callable(v) else v.split(":")[0][:40],
)
def test_bad_arguments_of_task_operations_and_runs(call, message) -> None:
    k = ps.Kernel(pages=1024)
    with pytest.raises(ps.UsageError) as e:
        call(k)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_failed_constructor_leaves_no_half_built_object_in_the_traceback() -> None:
    # pytest prints the arguments of every frame of a failing test's traceback: the
    # argument-checking wrapper of Schedule.__init__ held the instance pybind11 never
    # constructed, and its __repr__ read no C++ object (a segfault).
    for make in (lambda: ps.Schedule("\udcff"), lambda: ps.Schedule(5),
                 lambda: ps.Kernel(pages=3), lambda: ps.Kernel(cpus="2")):
        with pytest.raises(ps.UsageError) as e:
            make()
        tb = e.value.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                if isinstance(value, tuple):
                    assert not any(isinstance(v, (ps.Schedule, ps.Kernel)) for v in value)
                else:
                    assert not isinstance(value, (ps.Schedule, ps.Kernel))
            tb = tb.tb_next


def test_per_step_operations_bind_arguments_by_name_or_position() -> None:
    k = ps.Kernel(pages=1024)
    assert repr(ps.delay(ns=5)) == "<pagesim op delay>"
    assert repr(ps.call(entry="compact_memory")) == "<pagesim call compact_memory>"
    assert repr(ps.check(cond=0, name="c", message="m")) == "<pagesim op check>"
    assert repr(k.counter("c").add()) == "<pagesim op add>"
    assert ps.delay.__doc__.startswith("delay(ns: int) -> Op\n")


def test_a_class_cannot_be_made_without_its_cpp_object() -> None:
    # Schedule.__new__(Schedule) was an instance pybind11 never constructed: its repr read
    # no C++ object and crashed the interpreter (issue 15, fuzzing).
    classes = [v for v in vars(ps._core).values()
               if isinstance(v, type) and not issubclass(v, BaseException)]
    assert {ps.Schedule, ps.Kernel, ps.KernelState, ps.RunResult} <= set(classes)
    for cls in classes:
        with pytest.raises(ps.UsageError, match=rf"^{cls.__name__}\.__new__ is refused"):
            cls.__new__(cls)
    # Calling the class is unchanged.
    assert repr(ps.Schedule("0x2 1")) == "Schedule('0x2 1')"
    assert ps.Kernel(pages=512).state.page(0) is not None


def test_a_name_with_a_newline_is_quoted_on_one_line() -> None:
    for call in (lambda: ps.set_log_level("a\nb"), lambda: ps.Kernel(preset="v4.8\n"),
                 lambda: ps.Kernel().run(strategy="x\ny")):
        with pytest.raises(ps.UsageError) as e:
            call()
        assert "\n" not in str(e.value) and "\\n" in str(e.value), str(e.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # scenario.py and names.py took these silently, or raised a raw TypeError.
        (lambda: ps.KernelBuilder(ps.Kernel()).cpu(0.0), "cpu 0.0 out of range"),
        (lambda: ps.KernelBuilder(ps.Kernel()).cpu("1"), "cpu '1' out of range"),
        (lambda: ps.KernelBuilder(ps.Kernel()).cpu(True), "cpu True out of range"),
        (lambda: ZS_FREE.run(kernel=0), "kernel must be a preset name or None, not 0"),
        (lambda: ZS_FREE.explore(kernel=b"v4.8", executions=2), "kernel must be a preset name"),
        (lambda: ZS_FREE.run(fixes=object()), "fixes must be a dict of fix names"),
        (lambda: ps.model_functions("v4.8", " "), "fixes must be a dict of fix names"),
        (lambda: ps.model_functions("v4.8", 1), "fixes must be a dict of fix names"),
    ],
    ids=lambda v: "" if callable(v) else v[:30],
)
def test_scenario_arguments_are_checked(call, message) -> None:
    with pytest.raises(ps.UsageError) as e:
        call()
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_run_views_check_their_arguments() -> None:
    # diagram(width=2**31) was a MemoryError, width=0 drew nothing; page_history(None)
    # returned [] and diagram(depth=object()) a raw TypeError.
    run = ZS_FREE.run(kernel="v4.8")
    for call, message in ((lambda: run.diagram(width=2**31), "width must be an int between 4 and 1000"),
                          (lambda: run.diagram(width=0), "width must be an int between 4 and 1000"),
                          (lambda: run.diagram(depth=object()), "depth must be an int at least 0"),
                          (lambda: run.page_history(None), "pfn must be an int between 0 and 1023"),
                          (lambda: run.page_history(1024), "pfn must be an int between 0 and 1023")):
        with pytest.raises(ps.UsageError) as e:
            call()
        assert message in str(e.value), str(e.value)
    assert run.diagram(width=20)


def test_replay_of_deeply_nested_or_bad_fixes_json_is_exit_2(tmp_path) -> None:
    # A run JSON nested 100,000 deep was a RecursionError traceback; its "fixes" string not
    # JSON (or not a dict) a JSONDecodeError traceback.
    from pagesim import cli

    recorded = json.loads(ZS_FREE.run(kernel="v4.8").schedule.to_json())
    docs = {
        "deep.json": '{"schema": "pagesim.run/1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    }
    for name, fixes in (("fixes_text.json", "{not json"), ("fixes_list.json", "[1]")):
        recorded["meta"]["fixes"] = fixes
        docs[name] = json.dumps(recorded)
    for name, text in docs.items():
        (tmp_path / name).write_text(text)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = cli.main(["replay", str(tmp_path / name)])
        assert status == 2, (name, err.getvalue())
        assert err.getvalue().startswith("pagesim: ") and err.getvalue().count("\n") == 1, \
            (name, err.getvalue())


def test_core_usage_errors_are_one_line_of_text_of_bounded_length() -> None:
    # A message quoting bytes of a malformed document cut inside a character was a raw
    # UnicodeDecodeError; one quoting a 5000-digit number had 5000 characters.
    for call in (lambda: ps.Schedule.from_json('\x80"' + "é" * 10),
                 lambda: ps.Schedule.from_json('{"a": ' + "9" * 5000 + "}"),
                 lambda: ps.bug({"\U0001089f" * 30: 1})):
        with pytest.raises(ps.UsageError) as e:
            call()
        assert "\n" not in str(e.value) and len(str(e.value)) <= 1100, str(e.value)
    with pytest.raises(ps.UsageError, match="schedule entries must be CPU numbers, got False"):
        ps.Schedule([False])  # was CPU 0


def test_scenario_kernel_and_strategy_types() -> None:
    # kernel="" ran the scenario's default preset; strategy=[...] was "unhashable type".
    with pytest.raises(ps.UsageError, match="unknown kernel preset ''"):
        ZS_FREE.run(kernel="")
    with pytest.raises(ps.UsageError, match="strategy must be random, pct, dfs or dpor"):
        ZS_FREE.explore(strategy=["dfs"], executions=2)


def test_cli_a_scenario_file_that_fails_to_import_is_one_line(tmp_path) -> None:
    # A syntax error or an exception in the file was a traceback, exit status 1.
    from pagesim import cli

    for text, message in (("def (:\n", "SyntaxError"), ("x = 1\nraise RuntimeError('boom')\n",
                                                          "RuntimeError: boom")):
        path = tmp_path / "broken.py"
        path.write_text(text)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = cli.main(["run", str(path)])
        assert status == 2 and message in err.getvalue() and err.getvalue().count("\n") == 1, \
            err.getvalue()


def test_core_explore_progress_and_pct_depth_are_checked() -> None:
    # progress=5 was a raw TypeError, a progress returning a string a raw RuntimeError
    # ("Unable to cast"), and pct_depth=0 or 10**6 ran (Scenario.explore takes 1..64).
    k = ZS_FREE.build(kernel="v4.8")[0]
    with pytest.raises(ps.UsageError, match="progress must be a function of the result or None"):
        k.explore(executions=5, progress=5)
    assert k.explore(executions=100, progress=lambda r: "", minimise=False).executions == 64
    for depth in (0, 10**6):
        with pytest.raises(ps.UsageError, match="pct_depth must be an int between 1 and 64"):
            k.explore(strategy="pct", executions=5, pct_depth=depth)


def test_a_lone_surrogate_in_a_gfp_or_fix_name_is_a_usage_error() -> None:
    # pybind11's "Unable to cast" RuntimeError (found by make fuzz: `pagesim run F --fix=\udcff`).
    with pytest.raises(ps.UsageError, match="alloc_pages: gfp must be a string of UTF-8 text"):
        ps.Kernel(pages=512).alloc_pages(0, "\udcff")
    with pytest.raises(ps.UsageError, match="Kernel: a fix name must be a string of UTF-8 text"):
        ps.Kernel(fixes={"\udcff": True})
    with pytest.raises(ps.UsageError, match="spawn: task must be a string of UTF-8 text"):
        ps.Kernel(pages=512).spawn(0, "\udcff")


def test_cli_json_to_a_directory_or_a_missing_one_is_one_line(tmp_path) -> None:
    # An IsADirectoryError or FileNotFoundError traceback (found by make fuzz).
    from pagesim import cli

    target = os.path.join(os.path.dirname(os.path.dirname(__file__)), "scenarios",
                          "zs_free_double_isolation.py::isolate_once")
    for out in (str(tmp_path), str(tmp_path / "no" / "such.json")):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = cli.main(["run", target, "--json", out])
        assert status == 2 and err.getvalue().startswith(f"pagesim: cannot write {out}: "), \
            err.getvalue()


def test_minimise_refuses_a_schedule_that_does_not_show_the_outcome_or_names_no_cpu() -> None:
    # Both returned a "minimised" schedule without complaint (found by the fuzz suite).
    m = ps.Machine(cpus=2)
    c = m.counter("c")

    def task():
        v = yield c.read()
        yield c.set(v + 1)

    m.spawn(0, task)
    m.spawn(1, task)
    with pytest.raises(ps.UsageError, match="does not show outcome 'nope'"):
        m.minimise("nope", [0, 1])
    with pytest.raises(ps.UsageError, match="names cpu 7, the machine has 2 CPUs"):
        m.minimise("ok", [7, 7, 7])
    assert m.minimise("ok", [1, 0, 1, 0]).key == "ok"


def test_schedule_meta_values_are_strings() -> None:
    # A preset of [[[...]]] once reached the user as "unknown kernel preset '[[[...'".
    doc = json.loads(ps.Schedule("0x2 1x2").to_json())
    doc["meta"] = {"preset": [[["v4.8"]]]}
    with pytest.raises(ps.UsageError, match='schedule meta "preset" must be a string, not array'):
        ps.Schedule.from_json(json.dumps(doc))


def test_an_argparse_error_echoing_a_newline_stays_on_one_line(capsys) -> None:
    # `pagesim list F --kernel '\n0'` printed "unrecognized arguments: --kernel " and "0" on
    # two lines (found by make fuzz).
    from pagesim import cli

    assert cli.main(["presets", "--kernel", "\n0"]) == 2
    err = capsys.readouterr().err.strip().split("\n")
    assert err[-1] == "pagesim: error: unrecognized arguments: --kernel \\n0", err


def test_a_cpu_that_is_not_an_int_is_quoted_on_one_line() -> None:
    # k.cpu("\n") printed its message on two lines (found by make fuzz).
    @ps.scenario(kernel="v4.8", cpus=2)
    def newline_cpu(k):
        k.cpu("\n")

    with pytest.raises(ps.UsageError, match=r"^cpu '\\n' out of range \(the scenario has 2"):
        newline_cpu.build()


def test_a_gfp_argument_may_name_its_flags() -> None:
    k = ps.Kernel(pages=1024)  # one Normal zone: a DMA32 allocation finds no memory
    assert k.call("alloc_pages", 0, "GFP_KERNEL | __GFP_DMA32") == -1
    assert k.call("alloc_pages", 0, "GFP_KERNEL") >= 0
