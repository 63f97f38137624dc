// Engine contract: scheduling, blocking primitives, outcomes, determinism, replay.
#include <gtest/gtest.h>

#include <set>

#include "engine/schedule.h"
#include "engine/world.h"
#include "engine_support.h"
#include "explore/script.h"

using namespace pagesim;
using pagesim::testing::spawn_stuck_and_idle_worker;

namespace {

SimConfig cfg(uint32_t cpus, Nanos window = ~Nanos(0)) {
  SimConfig c;
  c.cpus = cpus;
  c.window = window;
  return c;
}

struct AbbaWorld : World {
  uint32_t m, s;
  AbbaWorld() {
    m = add_lock("M", LockKind::Mutex);
    s = add_lock("S", LockKind::Spin);
  }
};

// Task A: mutex then spinlock. Task B: spinlock then mutex (the wrong order).
RunResult run_abba(std::unique_ptr<Strategy> st, AbbaWorld& w) {
  Sim sim(cfg(2), &w, std::move(st));
  sim.spawn(0, "A", [&] {
    MODEL_FUNC("task_a");
    mutex_lock(w.locks[w.m].mutex);
    spin_lock(w.locks[w.s].spin);
    spin_unlock(w.locks[w.s].spin);
    mutex_unlock(w.locks[w.m].mutex);
  });
  sim.spawn(1, "B", [&] {
    MODEL_FUNC("task_b");
    spin_lock(w.locks[w.s].spin);
    mutex_lock(w.locks[w.m].mutex);
    mutex_unlock(w.locks[w.m].mutex);
    spin_unlock(w.locks[w.s].spin);
  });
  return sim.run();
}

bool has(const RunResult& r, const std::string& key) {
  for (const auto& o : r.outcomes)
    if (o.key() == key) return true;
  return false;
}

}  // namespace

TEST(Engine, RandomFindsAbbaDeadlockAndReplayReproducesIt) {
  std::optional<RunResult> dead;
  int ok = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    AbbaWorld w;
    RunResult r = run_abba(std::make_unique<RandomStrategy>(seed), w);
    if (r.ok()) ++ok;
    else if (has(r, "deadlock") && !dead) dead = r;
  }
  ASSERT_TRUE(dead.has_value()) << "random never found the ABBA deadlock";
  EXPECT_GT(ok, 0) << "some interleavings must complete";
  const Outcome& o = dead->outcomes.at(0);
  ASSERT_EQ(o.details.size(), 12u) << o.report();
  // Who waits on what, and who holds it.
  std::set<std::string> lines(o.details.begin(), o.details.end());
  EXPECT_TRUE(lines.count("A (cpu0) spins on spinlock 'S' held by B in task_a")) << o.report();
  EXPECT_TRUE(lines.count("B (cpu1) sleeps on mutex 'M' held by A in task_b")) << o.report();
  // Where each holder took its lock, and lockdep's scenario: each CPU's lock, then the
  // other's, in the order taken.
  EXPECT_TRUE(lines.count("B took spinlock 'S' in task_b at step 0") ||
              lines.count("B took spinlock 'S' in task_b at step 1")) << o.report();
  const std::vector<std::string> scenario(o.details.begin() + 4, o.details.end());
  EXPECT_EQ(scenario.front(), " Possible unsafe locking scenario:");
  EXPECT_EQ(scenario[1], "      CPU0                            CPU1");
  EXPECT_EQ(scenario.back(), " *** DEADLOCK ***");
  EXPECT_EQ(scenario[scenario.size() - 3], "  lock('S');");  // A waits for S
  EXPECT_EQ(scenario[scenario.size() - 2], "                                  lock('M');");

  AbbaWorld w;
  RunResult again = run_abba(std::make_unique<ReplayStrategy>(dead->schedule, nullptr), w);
  EXPECT_EQ(again.trace_hash, dead->trace_hash);
  EXPECT_TRUE(has(again, "deadlock"));
}

TEST(Engine, SameSeedSameHashDifferentSeedsDifferentInterleavings) {
  std::set<uint64_t> hashes;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    AbbaWorld w1, w2;
    RunResult a = run_abba(std::make_unique<RandomStrategy>(seed), w1);
    RunResult b = run_abba(std::make_unique<RandomStrategy>(seed), w2);
    EXPECT_EQ(a.trace_hash, b.trace_hash);
    EXPECT_EQ(a.schedule, b.schedule);
    hashes.insert(a.trace_hash);
  }
  EXPECT_GT(hashes.size(), 3u);
}

TEST(Engine, StaleScheduleIsRefused) {
  AbbaWorld w;
  // cpu 5 does not exist, so it is never eligible.
  EXPECT_THROW(run_abba(std::make_unique<ReplayStrategy>(std::vector<CpuId>{5}, nullptr), w),
               StaleSchedule);
}

TEST(Engine, SpinlockGivesMutualExclusion) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    World w;
    uint32_t l = w.add_lock("L", LockKind::Spin);
    int64_t shared = 0;
    int inside = 0, max_inside = 0;
    Sim sim(cfg(3), &w, std::make_unique<RandomStrategy>(seed));
    for (CpuId c = 0; c < 3; ++c)
      sim.spawn(c, "t" + std::to_string(c), [&] {
        for (int i = 0; i < 5; ++i) {
          spin_lock(w.locks[l].spin);
          max_inside = std::max(max_inside, ++inside);
          int64_t v = atomic_read(shared, kNoObj + 1);  // read-modify-write under the lock
          delay(3);
          shared = v + 1;
          --inside;
          spin_unlock(w.locks[l].spin);
        }
      });
    RunResult r = sim.run();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(shared, 15);
    EXPECT_EQ(max_inside, 1);
  }
}

TEST(Engine, LostUpdateWithoutLockIsReachable) {
  bool lost = false;
  for (uint64_t seed = 0; seed < 50 && !lost; ++seed) {
    World w;
    int64_t shared = 0;
    Sim sim(cfg(2), &w, std::make_unique<RandomStrategy>(seed));
    for (CpuId c = 0; c < 2; ++c)
      sim.spawn(c, "t", [&] {
        int64_t v = atomic_read(shared, make_obj(4, 0));
        sched(Op::Write, Access::Write, make_obj(4, 0), here());
        shared = v + 1;
      });
    sim.run();
    lost = shared == 1;
  }
  EXPECT_TRUE(lost);
}

// Window 0: a strict discrete-event simulation, operations start in clock order.
// An unbounded window lets a CPU run ahead of another (free interleaving).
TEST(Engine, TimingWindowBoundsHowFarACpuRunsAhead) {
  auto run = [](Nanos window, uint64_t seed) {
    World w;
    Sim sim(cfg(2, window), &w, std::make_unique<RandomStrategy>(seed));
    sim.spawn(0, "slow", [] {
      for (int i = 0; i < 3; ++i) delay(100);
    });
    sim.spawn(1, "fast", [] {
      for (int i = 0; i < 3; ++i) delay(30);
    });
    return sim.run();
  };
  bool out_of_order = false;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    RunResult strict = run(0, seed);
    ASSERT_TRUE(strict.ok());
    EXPECT_EQ(strict.clock, 300u);
    for (size_t i = 1; i < strict.trace.size(); ++i)
      EXPECT_LE(strict.trace[i - 1].clock, strict.trace[i].clock);
    RunResult free = run(~Nanos(0), seed);
    for (size_t i = 1; i < free.trace.size(); ++i)
      out_of_order |= free.trace[i - 1].clock > free.trace[i].clock;
  }
  EXPECT_TRUE(out_of_order);
}

// Even with free interleaving allowed, `timed` picks the earliest clock.
TEST(Engine, TimedStrategyIsAPlainDiscreteEventSimulation) {
  World w;
  Sim sim(cfg(2), &w, std::make_unique<TimedStrategy>(1));
  for (CpuId c = 0; c < 2; ++c)
    sim.spawn(c, "t", [c] {
      for (int i = 0; i < 3; ++i) delay(c ? 30 : 100);
    });
  RunResult r = sim.run();
  ASSERT_TRUE(r.ok());
  std::vector<Nanos> starts;
  for (const auto& t : r.trace)
    if (t.kind == TraceKind::Step) starts.push_back(t.clock);
  EXPECT_EQ(starts, (std::vector<Nanos>{0, 0, 30, 60, 100, 200}));
  EXPECT_EQ(r.clock, 300u);
}

TEST(Engine, OopsEndsTheTaskNotTheRun) {
  World w;
  bool other_finished = false;
  Sim sim(cfg(2), &w, std::make_unique<RandomStrategy>(3));
  sim.spawn(0, "victim", [&] {
    MODEL_FUNC("zs_page_isolate");
    delay(1);
    OOPS("unable to handle kernel NULL pointer dereference at 0000000000000008");
  });
  sim.spawn(1, "other", [&] {
    delay(10);
    other_finished = true;
  });
  RunResult r = sim.run();
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_EQ(r.outcomes[0].key(), "oops:zs_page_isolate");
  EXPECT_EQ(r.outcomes[0].backtrace, std::vector<std::string>{"zs_page_isolate"});
  EXPECT_TRUE(other_finished);
}

TEST(Engine, PanicOnOopsStopsTheRun) {
  World w;
  bool other_finished = false;
  SimConfig c = cfg(2, 0);
  c.panic_on_oops = true;
  Sim sim(c, &w, std::make_unique<TimedStrategy>(3));
  sim.spawn(0, "victim", [&] { BUG("free_zspage", "VM_BUG_ON(inuse)"); });
  sim.spawn(1, "other", [&] {
    delay(10);
    delay(10);
    other_finished = true;
  });
  RunResult r = sim.run();
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_EQ(r.outcomes[0].key(), "bug:free_zspage");
  EXPECT_FALSE(other_finished);
}

TEST(Engine, StepLimitEndsALivelock) {
  World w;
  SimConfig c = cfg(1);
  c.max_steps = 100;
  Sim sim(c, &w, std::make_unique<RandomStrategy>(0));
  sim.spawn(0, "spin", [&] {
    for (;;) delay(1);
  });
  RunResult r = sim.run();
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_EQ(r.outcomes[0].key(), "step_limit");
  EXPECT_EQ(r.steps, 100u);
}

TEST(Engine, SetupFaultsThrowOutsideTasks) {
  EXPECT_THROW(BUG("f", "x"), SetupFault);
  EXPECT_THROW(OOPS("x"), SetupFault);
}

namespace {
struct WqWorld : World {
  int ran = 0;
  uint32_t work;
  WqWorld() {
    work = init_work(*this, [](World& w, uint64_t) { static_cast<WqWorld&>(w).ran++; }, 0, "w");
  }
};
}  // namespace

TEST(Engine, WorkqueueRunsQueuedWorkOnceAndFlushWaits) {
  for (uint64_t seed = 0; seed < 30; ++seed) {
    WqWorld w;
    bool second_queue = true;
    int seen_after_flush = -1;
    Sim sim(cfg(2), &w, std::make_unique<RandomStrategy>(seed));
    sim.spawn(1, "q", [&] {
      schedule_work(w, w.work);
      second_queue = schedule_work(w, w.work);  // false unless the worker already started it
      flush_work(w, w.work);
      seen_after_flush = w.ran;
    });
    RunResult r = sim.run();
    ASSERT_TRUE(r.ok()) << r.outcomes[0].report();
    EXPECT_EQ(w.ran, second_queue ? 2 : 1);
    EXPECT_EQ(seen_after_flush, w.ran);
  }
}

TEST(Engine, IdleWorkersReturnAndOtherWaitersUnwindWhenTheSimEnds) {
  World w;
  bool returned = false, unwound = false;
  {
    Sim sim(cfg(2), &w, std::make_unique<RandomStrategy>(1));
    spawn_stuck_and_idle_worker(sim, w, returned, unwound);
    RunResult r = sim.run();
    ASSERT_EQ(r.outcomes.size(), 1u);
    // The stuck task, not the worker: it sleeps on a lock nobody holds, so no wake-up can
    // come (a hang: a lost wake-up).
    EXPECT_EQ(r.outcomes[0].kind, OutcomeKind::Hang);
    EXPECT_EQ(r.outcomes[0].details.size(), 1u);
    EXPECT_FALSE(returned || unwound);
  }
  EXPECT_TRUE(returned);
  EXPECT_TRUE(unwound);
}

TEST(Engine, CancelWorkSyncTakesPendingWorkOffAndDrainWaitsForTheQueue) {
  for (uint64_t seed = 0; seed < 30; ++seed) {
    WqWorld w;
    bool was_pending = false;
    int after_cancel = -1, after_drain = -1;
    Sim sim(cfg(2), &w, std::make_unique<RandomStrategy>(seed));
    sim.spawn(1, "q", [&] {
      schedule_work(w, w.work);
      was_pending = cancel_work_sync(w, w.work);
      after_cancel = w.ran;  // cancelled before it ran, or it ran to its end
      schedule_work(w, w.work);
      drain_workqueue(w, 0);
      after_drain = w.ran;
    });
    RunResult r = sim.run();
    ASSERT_TRUE(r.ok()) << r.outcomes[0].report();
    EXPECT_EQ(after_cancel, was_pending ? 0 : 1);
    EXPECT_EQ(after_drain, after_cancel + 1);
    EXPECT_FALSE(w.works[w.work].pending || w.works[w.work].running);
  }
}

TEST(Engine, WorkFlushedInSetupRunsInline) {
  WqWorld w;
  EXPECT_TRUE(schedule_work(w, w.work));
  EXPECT_FALSE(schedule_work(w, w.work));
  flush_work(w, w.work);
  EXPECT_EQ(w.ran, 1);
}

TEST(Engine, RwlockReadersShareWritersExclude) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    World w;
    uint32_t l = w.add_lock("rw", LockKind::RwLock);
    int readers = 0, writers = 0, max_readers = 0;
    bool violated = false;
    Sim sim(cfg(3), &w, std::make_unique<RandomStrategy>(seed));
    for (CpuId c = 0; c < 2; ++c)
      sim.spawn(c, "reader", [&] {
        read_lock(w.locks[l].rw);
        ++readers;
        max_readers = std::max(max_readers, readers);
        violated |= writers > 0;
        delay(50);
        --readers;
        read_unlock(w.locks[l].rw);
      });
    sim.spawn(2, "writer", [&] {
      write_lock(w.locks[l].rw);
      ++writers;
      violated |= readers > 0;
      delay(10);
      --writers;
      write_unlock(w.locks[l].rw);
    });
    ASSERT_TRUE(sim.run().ok());
    EXPECT_FALSE(violated);
  }
}

// rw_semaphore (shrinker_rwsem): readers share, a writer excludes them, and a reader's
// trylock fails while a writer holds it or waits for the readers to leave.
TEST(Engine, RwSemReadersShareAWaitingWriterFailsTheTrylock) {
  int tried_under_writer = 0, shared = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    World w;
    RwSem sem{make_obj(objclass::kLock, 0)};
    int readers = 0, writers = 0;
    bool violated = false;
    Sim sim(cfg(3), &w, std::make_unique<RandomStrategy>(seed));
    const auto reader = [&] {
      down_read(sem);
      ++readers;
      shared += readers > 1;
      violated |= writers > 0;
      delay(100);
      --readers;
      up_read(sem);
    };
    sim.spawn(0, "reader", reader);
    sim.spawn(1, "writer", [&] {
      down_write(sem);
      ++writers;
      violated |= readers > 0;
      delay(50);
      --writers;
      up_write(sem);
    });
    sim.spawn(2, "trylock", [&] {
      for (int i = 0; i < 20; ++i) {
        // Nothing runs between the trylock's decision and the next statement.
        const bool got = down_read_trylock(sem);
        const bool writer_in = sem.writer != kNoTask || sem.writers_waiting;
        violated |= got == writer_in;
        tried_under_writer += writer_in;
        if (got) {
          ++readers;
          shared += readers > 1;
          violated |= writers > 0;
          --readers;
          up_read(sem);
        }
        delay(10);
      }
    });
    ASSERT_TRUE(sim.run().ok());
    EXPECT_FALSE(violated) << seed;
  }
  EXPECT_GT(tried_under_writer, 0);  // the trylock met a writer, holding or waiting
  EXPECT_GT(shared, 0);              // and two readers held it at once
}

// spin_is_contended / rwlock_is_contended (zsmalloc's compaction gives a class up on
// them): true while another task waits for the lock, and never before one could.
TEST(Engine, ContendedWhileAnotherTaskWaits) {
  bool spin_seen = false, rw_seen = false;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    World w;
    const uint32_t s = w.add_lock("S", LockKind::Spin);
    const uint32_t rw = w.add_lock("RW", LockKind::RwLock);
    bool waiter_started = false;
    Sim sim(cfg(2), &w, std::make_unique<RandomStrategy>(seed));
    sim.spawn(0, "holder", [&] {
      spin_lock(w.locks[s].spin);
      write_lock(w.locks[rw].rw);
      for (int i = 0; i < 20; ++i) {
        const bool spin = spin_is_contended(w.locks[s].spin);
        const bool rwc = rwlock_is_contended(w.locks[rw].rw);
        EXPECT_TRUE(waiter_started || (!spin && !rwc));
        spin_seen |= spin;
        delay(10);
      }
      spin_unlock(w.locks[s].spin);
      for (int i = 0; i < 20; ++i) {
        EXPECT_FALSE(spin_is_contended(w.locks[s].spin));
        rw_seen |= rwlock_is_contended(w.locks[rw].rw);
        delay(10);
      }
      write_unlock(w.locks[rw].rw);
    });
    sim.spawn(1, "waiter", [&] {
      waiter_started = true;
      spin_lock(w.locks[s].spin);
      spin_unlock(w.locks[s].spin);
      read_lock(w.locks[rw].rw);
      read_unlock(w.locks[rw].rw);
    });
    ASSERT_TRUE(sim.run().ok());
    EXPECT_EQ(w.locks[s].spin.spinning, 0u);
  }
  EXPECT_TRUE(spin_seen);
  EXPECT_TRUE(rw_seen);
}

// A sleeper on a bit lock whose holder unlocked it without waking anyone (unlock_page
// finding no PG_waiters) waits for what no task can change: a hang, not a deadlock.
TEST(Engine, ASleeperOnALockNobodyHoldsIsALostWakeupHang) {
  int hangs = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    World w;
    uint64_t word = 0;
    const ObjId obj = kNoObj + 7;
    bool waiting = false;
    Sim sim(cfg(2), &w, std::make_unique<RandomStrategy>(seed));
    sim.spawn(0, "holder", [&] {
      bit_lock(0, word, obj, BitLockKind::Sleep, "page lock");
      while (!waiting) delay(1);
      bit_unlock_quiet(0, word, obj);
    });
    sim.spawn(1, "waiter", [&] {
      waiting = true;
      bit_lock(0, word, obj, BitLockKind::Sleep, "page lock");
      bit_unlock(0, word, obj, BitLockKind::Sleep);
    });
    const RunResult r = sim.run();
    if (r.ok()) continue;  // the waiter came after the unlock and took the lock
    ASSERT_EQ(r.outcomes.size(), 1u);
    EXPECT_EQ(r.outcomes[0].key(), "hang");
    ASSERT_EQ(r.outcomes[0].details.size(), 1u);
    EXPECT_NE(r.outcomes[0].details[0].find("which nobody holds (a lost wake-up)"), std::string::npos)
        << r.outcomes[0].details[0];
    ++hangs;
  }
  EXPECT_GT(hangs, 0);
}

// unlock_page with PG_waiters clear (62906027091f) wakes no task queued on the lock, but a
// loop that polls the page (the 4.19 balloon shrinker retrying a locked page) looks again.
TEST(Engine, WakeUpPollersWakesThePollingLoopsNotTheLockWaiters) {
  int hangs = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    World w;
    uint64_t word = 0;
    const ObjId obj = kNoObj + 7;
    bool held = false, polling = false, polled_free = false, locked_after = false;
    Sim sim(cfg(3), &w, std::make_unique<RandomStrategy>(seed));
    sim.spawn(0, "holder", [&] {
      bit_lock(0, word, obj, BitLockKind::Sleep, "page lock");
      held = true;
      while (!polling) delay(1);
      bit_unlock_quiet(0, word, obj);
      wake_up_pollers(obj);
    });
    sim.spawn(1, "sleeper", [&] {
      while (!held) delay(1);
      bit_lock(0, word, obj, BitLockKind::Sleep, "page lock");
      locked_after = true;
      bit_unlock(0, word, obj, BitLockKind::Sleep);
    });
    sim.spawn(2, "poller", [&] {
      while (!(word & 1)) delay(1);
      while (word & 1) {
        polling = true;  // no scheduling point before the poll: the holder unlocks after it
        poll_spin(obj, "a trylock loop");
      }
      polled_free = true;
    });
    const RunResult r = sim.run();
    EXPECT_TRUE(polled_free) << "seed " << seed;  // polling at the unlock, and woken
    if (locked_after) {  // the sleeper came after the unlock and took the lock
      EXPECT_TRUE(r.ok()) << "seed " << seed;
      continue;
    }
    ASSERT_EQ(r.outcomes.size(), 1u) << "seed " << seed;
    EXPECT_EQ(r.outcomes[0].key(), "hang") << "seed " << seed;  // the sleeper's lost wake-up
    ++hangs;
  }
  EXPECT_GT(hangs, 0);
}

TEST(Schedule, CompactRoundTripAndErrors) {
  Schedule s{{0, 0, 0, 1, 0, 0}, {}};
  EXPECT_EQ(s.compact(), "0x3 1 0x2");
  EXPECT_EQ(Schedule::parse_compact("0x3 1 0x2").choices, s.choices);
  EXPECT_THROW(Schedule::parse_compact("0x"), UsageError);
  EXPECT_THROW(Schedule::parse_compact("a1"), UsageError);
  EXPECT_THROW(Schedule::parse_compact("1x0"), UsageError);
  auto j = s.to_json();
  EXPECT_EQ(Schedule::from_json(j).choices, s.choices);
  j["pagesim_version"] = "0.0.1";
  EXPECT_THROW(Schedule::from_json(j), UsageError);
}

namespace {
void phase(const char* name, std::vector<std::string>& log, const std::string& who) {
  ModelFrame frame(intern(name));  // MODEL_FUNC takes a literal name per call site
  delay(5);
  log.push_back(who + ":" + name);
  delay(5);
}
}  // namespace

TEST(Script, BreakpointsByModelFunction) {
  World w;
  std::vector<std::string> log;
  std::vector<ScriptStep> steps = {
      {0, ScriptStep::Until::Before, intern("second"), kNoObj, 0},  // A runs `first`
      {1, ScriptStep::Until::After, intern("first"), kNoObj, 0},    // B runs `first`
      {0, ScriptStep::Until::Done, 0, kNoObj, 0},                   // A finishes
  };
  Sim sim(cfg(2), &w, std::make_unique<ScriptStrategy>(steps, std::make_unique<RandomStrategy>(1)));
  for (CpuId c = 0; c < 2; ++c)
    sim.spawn(c, c ? "B" : "A", [&log, c] {
      phase("first", log, c ? "B" : "A");
      phase("second", log, c ? "B" : "A");
    });
  ASSERT_TRUE(sim.run().ok());
  EXPECT_EQ(log, (std::vector<std::string>{"A:first", "B:first", "A:second", "B:second"}));
  EXPECT_EQ(steps[0].describe(), "cpu0 until before second");
}
