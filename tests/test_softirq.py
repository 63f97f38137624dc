"""Softirq contexts: a context that interrupts its CPU's task wherever that task has bottom
halves enabled, runs to its end, and cannot sleep. The classic bug it finds is lockdep's
"inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage": a lock taken with a plain
spin_lock in process context and taken again by a softirq of the same CPU (zram's
bitmap_lock before 3c9959e02547)."""

from __future__ import annotations

import pagesim as ps
import pytest


@ps.scenario(cpus=1, pages=512, softirq=True, params={"bh": [False, True]})
def bitmap_lock(k, bh):
    """A writer takes bitmap_lock in process context; a softirq of its CPU takes it too."""
    lock = k.spinlock("bitmap_lock")

    def writer():
        yield lock.lock_bh() if bh else lock.lock()
        yield ps.delay(10)
        yield lock.unlock_bh() if bh else lock.unlock()

    def slot_free():
        yield lock.lock()
        yield ps.delay(5)
        yield lock.unlock()

    k.cpu(0).run(writer)
    k.cpu(0).softirq(slot_free)


def test_a_softirq_taking_a_lock_its_task_holds_deadlocks_the_cpu():
    # The softirq can come at each of the writer's 4 scheduling points: before its lock
    # and after its unlock it is harmless; in between, it spins on the lock forever.
    for strategy in ("dfs", "dpor"):
        ex = bitmap_lock.bind(bh=False).explore(strategy=strategy, preemption_bound=None)
        assert ex.exhausted and ex.outcomes == {"deadlock": 2, "ok": 2}, ex
    report = ex.replay("deadlock").report().splitlines()
    assert report[1:4] == [
        "writer (cpu0) interrupted by softirq slot_free in writer",
        "slot_free (cpu0) spins on spinlock 'bitmap_lock' held by writer in slot_free",
        ("inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage: writer holds 'bitmap_lock' "
         "with softirqs on, and a softirq of its CPU takes it")]
    table = report[report.index(" Possible unsafe locking scenario:"):]
    assert table[3:6] == ["  lock('bitmap_lock');", "  <Interrupt>", "    lock('bitmap_lock');"]


def test_spin_lock_bh_keeps_the_softirq_out():
    ex = bitmap_lock.bind(bh=True).explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 2}, ex
    assert ex.proves_never("deadlock")


@ps.scenario(cpus=2, pages=512, softirq=True)
def on_another_cpu(k):
    lock = k.spinlock("L")

    def writer():
        yield lock.lock()
        yield ps.delay(10)
        yield lock.unlock()

    def softirq():
        yield lock.lock()
        yield lock.unlock()

    k.cpu(0).run(writer)
    k.cpu(1).softirq(softirq)


def test_a_softirq_of_another_cpu_only_waits():
    ex = on_another_cpu.explore(strategy="dfs", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 5}, ex


@ps.scenario(cpus=1, pages=512, softirq=True)
def sleeping_softirq(k):
    m = k.mutex("M")

    def holder():
        yield m.lock()
        yield ps.delay(10)
        yield m.unlock()

    def softirq():
        yield m.lock()
        yield m.unlock()

    k.cpu(0).run(holder)
    k.cpu(0).softirq(softirq)


def test_a_softirq_cannot_sleep():
    ex = sleeping_softirq.explore(strategy="dfs", preemption_bound=None)
    assert ex.outcomes == {"bug:__schedule_bug": 2, "ok": 2}, ex
    bug = ex.replay("bug").bug
    assert (bug.task, bug.message) == ("softirq", "scheduling while atomic")
    assert bug.details == ["a softirq context sleeps on mutex 'M'"]


@ps.scenario(cpus=1, pages=512, softirq=True)
def shared_cpu(k):
    c = k.counter("c")

    def a():
        yield c.add(1)
        yield c.add(1)

    def b():
        yield c.add(10)

    def s():
        yield c.add(100)

    k.cpu(0).run(a)
    k.cpu(0).run(b)
    k.cpu(0).softirq(s)


def test_the_interrupted_task_has_its_cpu_back_and_tasks_do_not_preempt_each_other():
    ex = shared_cpu.explore(strategy="dfs", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 8}, ex
    orders = set()
    for seed in range(200):
        run = shared_cpu.run(seed=seed, scripted=False)
        orders.add("".join(e["task"] for e in run.trace() if e["kind"] == "step"))
    # Without CONFIG_PREEMPT a and b never interleave; s comes between any two steps.
    assert orders == {"saab", "asab", "aasb", "aabs", "sbaa", "bsaa", "basa", "baas"}


def test_softirq_contexts_are_declared_and_lock_bh_is_a_spinlocks():
    @ps.scenario(cpus=1)
    def undeclared(k):
        k.cpu(0).softirq("zs_free", 0, 0)

    with pytest.raises(ps.UsageError, match="softirq context needs softirq=True"):
        undeclared.run()
    m = ps.Machine(cpus=1, softirq=True)
    mutex = m.mutex("M")
    with pytest.raises(ps.UsageError, match="is not a spinlock: lock_bh is spin_lock_bh"):
        mutex.lock_bh()

    def task():
        yield ps.delay(1)

    assert m.spawn(0, task) == 0 and m.spawn(0, task, softirq=True) == 1  # lanes
    assert m.run().ok


def test_debug_atomic_sleep_reports_a_softirq_that_may_sleep():
    # CONFIG_DEBUG_ATOMIC_SLEEP: mutex_lock's might_sleep() in a softirq, even uncontended.
    @ps.scenario(cpus=1, pages=512, softirq=True, debug_atomic_sleep=True)
    def may_sleep(k):
        m = k.mutex("M")

        def softirq():
            yield m.lock()
            yield m.unlock()

        k.cpu(0).softirq(softirq)

    run = may_sleep.run()
    assert run.outcome_counts == {"bug:__might_sleep": 1}
    assert run.bug.details == [
        "in_atomic(): 1, spinlocks held: 0, in softirq, taking mutex 'M'"]


@ps.scenario(kernel="v4.8", cpus=1, pages=512, softirq=True)
def softirq_during_rmqueue(k):
    alloc = k.cpu(0).run("alloc_pages", 0, ps.GFP["GFP_KERNEL"], name="alloc")

    def tick():
        yield ps.delay(1)

    tick = k.cpu(0).softirq(tick, name="tick")
    # Asks for the softirq where buffered_rmqueue holds zone->lock.
    return ps.script(alloc.before("__rmqueue"), tick, alloc)


def test_no_softirq_comes_while_zone_lock_is_held_with_interrupts_off():
    steps = [e for e in softirq_during_rmqueue.run().trace() if e["kind"] == "step"]
    where = [(e["task"], e["op"], e.get("obj")) for e in steps]
    unlock = where.index(("alloc", "spin_unlock", "zone->lock 0"))
    assert where[unlock + 1] == ("tick", "delay", None)  # right after spin_unlock_irqrestore
    # Before buffered_rmqueue, after it, and after the allocation's last step.
    ex = softirq_during_rmqueue.explore(strategy="dfs", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 3}, ex
