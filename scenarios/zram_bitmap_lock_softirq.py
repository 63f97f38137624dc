"""zram's backing-device bitmap_lock, taken in process context and in a swap-in's bio
completion on the same CPU (Minchan Kim, Nov 2018; 3c9959e02547).

Report: the commit message of 3c9959e02547, "zram: fix lockdep warning of free block
handling" (the first patch of "zram idle page writeback" v3; merged for 5.0, and in
4.19.y: the stored 4.19.95 tree has it, 4.19.0 does not):

    WARNING: inconsistent lock state
    4.19.0+ #390 Not tainted
    inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage.
    zram_verify/2095 [HC0[0]:SC1[1]:HE1:SE0] takes:
    (&(&zram->bitmap_lock)->rlock){+.?.}, at: put_entry_bdev+0x1e/0x50
    {SOFTIRQ-ON-W} state was registered at:
      _raw_spin_lock+0x2c/0x40
      zram_make_request+0x755/0xdc9
    ...
    "With writeback feature, zram_slot_free_notify could be called in softirq context by
    end_swap_bio_read. However, bitmap_lock is not aware of that so lockdep yell out."

        get_entry_bdev
          spin_lock(bitmap->lock);
          irq
            softirq
              end_swap_bio_read
                zram_slot_free_notify
                  zram_slot_lock <-- deadlock prone
                  zram_free_page
                    put_entry_bdev
                      spin_lock(bitmap->lock); <-- deadlock prone

With CONFIG_ZRAM_WRITEBACK (4.14's db8ffbd4e763) zram writes an incompressible page to its
backing device: `write_to_bdev()` takes a block in `get_entry_bdev()` under a plain
`spin_lock(&zram->bitmap_lock)`. A swap-in of a written-back slot chains its read to the
backing device's bio, so `end_swap_bio_read()` runs from the block softirq, and its
`swap_slot_free_notify()` frees the slot: `zram_free_page()` -> `zram_wb_clear()` ->
`put_entry_bdev()` takes `bitmap_lock` too.

Slot 0 is written back and a swap-in of it is in flight; a writer on the same CPU stores
an incompressible page in slot 1. The bio's completion is a softirq context on that CPU
(`k.cpu(0).softirq`): it may come at any scheduling point where the writer has bottom
halves enabled.

- `v4.19`: dpor without a preemption bound (one CPU) exhausts 15 executions: deadlock 3,
  ok 12. In the 3 the softirq comes while the writer holds `bitmap_lock` in
  `get_entry_bdev()`, and the report is lockdep's: the writer "interrupted by softirq",
  `inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage`, and the `<Interrupt>` table.
- With 3c9959e02547 (`[fixes=+3c9959e02547]`, 4.19.y): the bitmap is lockless
  (`test_and_set_bit` and `test_and_clear_bit`) and `zram_slot_free_notify()` only
  try-locks the slot, counting a miss in `miss_free`: 13 executions, all clean.
- `v5.4` (the fix, and a939888ec38b: a page goes to the backing device when
  `writeback_store` asks, not as zram stores it): the same race with `writeback_store`
  writing two huge slots back as the writer, 207 executions, clean.

The commit's second "deadlock prone" line, the slot's bit spinlock, is
`test_the_slot_lock_half`: a softirq freeing a slot whose lock its CPU's task holds spins
forever before the fix (a bit spinlock: lockdep does not see it), and misses the free
with it.
"""

import pagesim as ps

FIX = {"3c9959e02547": True}
WRITTEN_BACK = 0  # the slot the swap-in reads, on the backing device
INCOMPRESSIBLE = 4000  # huge (over 3/4 of a page; from 4.17 zsmalloc's huge class size, 3257)


def written_back_slot(k):
    """A zram device whose slot 0 is on the backing device."""
    k.call("zram_backing_dev", 8)
    k.call("zram_create", 4)
    if k.call("zram_write", WRITTEN_BACK, INCOMPRESSIBLE, 7) == 0:
        k.call("zram_writeback", 0)  # 5.0: writeback_store("huge")
    assert k.call("zram_wb_block", WRITTEN_BACK) != 0


@ps.scenario(kernel="v4.19", cpus=1, pages=512, softirq=True, params={"fixes": [{}, FIX]})
def zram_bitmap_lock_softirq(k):
    """A writer stores an incompressible page on cpu0; the swap-in of a written-back slot
    completes in a softirq of cpu0."""
    written_back_slot(k)
    writer = k.cpu(0).run("zram_write", 1, INCOMPRESSIBLE, 8, name="writer")
    bio_done = k.cpu(0).softirq("end_swap_bio_read", WRITTEN_BACK, name="bio_done")
    # The softirq comes right after the writer took bitmap_lock.
    return ps.script(writer.before("get_entry_bdev"), writer.steps(1), bio_done)


LOCKDEP = [
    "writer (cpu0) interrupted by softirq bio_done in get_entry_bdev",
    "bio_done (cpu0) spins on spinlock zram->bitmap_lock held by writer in put_entry_bdev",
    ("inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage: writer holds zram->bitmap_lock "
     "with softirqs on, and a softirq of its CPU takes it"),
]


def test_the_script_reaches_the_report():
    run = zram_bitmap_lock_softirq.bind(fixes={}).run()
    status = run.result.script_status
    assert status[1]["matched"] and status[1]["last_function"] == "get_entry_bdev"
    assert [o.key for o in run.outcomes] == ["deadlock"], run.report()
    report = run.report().splitlines()
    assert report[1:4] == LOCKDEP
    table = report[report.index(" Possible unsafe locking scenario:"):]
    assert table[3:6] == ["  lock(zram->bitmap_lock);", "  <Interrupt>",
                          "    lock(zram->bitmap_lock);"]


def test_v419_exploration_finds_the_lockdep_report():
    ex = zram_bitmap_lock_softirq.bind(fixes={}).explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"deadlock": 3, "ok": 12}, ex
    assert ex.replay("deadlock").report().splitlines()[1:4] == LOCKDEP


def test_with_the_fix_the_softirq_takes_no_lock_of_its_task():
    sc = zram_bitmap_lock_softirq.bind(fixes=FIX)
    run = sc.run()
    assert run.ok and run.result.script_status[2]["context_ended"], run.report()
    ex = sc.explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 13}, ex
    assert ex.proves_never("deadlock")


@ps.scenario(kernel="v5.4", cpus=1, pages=512, softirq=True)
def writeback_store_and_the_softirq(k):
    """5.0: the writer is writeback_store, which takes blocks from the lockless bitmap."""
    written_back_slot(k)
    for slot in (1, 2):
        k.call("zram_write", slot, INCOMPRESSIBLE, 8 + slot)
    k.cpu(0).run("zram_writeback", 0, name="writeback")
    k.cpu(0).softirq("end_swap_bio_read", WRITTEN_BACK, name="bio_done")


def test_v54_is_clean():
    ex = writeback_store_and_the_softirq.explore(strategy="dpor", preemption_bound=None)
    assert ex.exhausted and ex.outcomes == {"ok": 207}, ex


@ps.scenario(kernel="v4.19", cpus=1, pages=512, softirq=True)
def slot_lock_half(k):
    """The reader of slot 0 holds its lock when the softirq frees slot 0."""
    written_back_slot(k)
    reader = k.cpu(0).run("zram_read", WRITTEN_BACK, name="reader")
    bio_done = k.cpu(0).softirq("end_swap_bio_read", WRITTEN_BACK, name="bio_done")
    return ps.script(reader.steps(1), bio_done, reader)


def test_the_slot_lock_half():
    run = slot_lock_half.run()
    assert [o.key for o in run.outcomes] == ["deadlock"], run.report()
    assert run.report().splitlines()[2:4] == [
        "bio_done (cpu0) spins on bit spinlock zram slot 0 held by reader in zram_slot_free_notify",
        ("reader holds zram slot 0 with softirqs on, and a softirq of its CPU spins on it (a "
         "bit spinlock, which lockdep does not see)")]
    run = slot_lock_half.run(fixes=FIX)
    assert run.ok, run.report()
    stats = ps.zram_stats(run.kernel)
    assert (stats["notify_free"], stats["miss_free"], stats["wb_blocks"][WRITTEN_BACK]) == (1, 1, 1)
