// Reusing a Sim (Sim::reset, as an exploration does) is invisible: every run gives the
// RunResult a new Sim gives, and the end of a run (end_run) ends the unfinished tasks and
// releases the strategy and checks at the point where the Sim used to be destroyed.
#include <gtest/gtest.h>

#include <set>

#include "engine/sync.h"
#include "engine/world.h"
#include "engine_support.h"

using namespace pagesim;
using pagesim::testing::spawn_stuck_and_idle_worker;

namespace {

SimConfig cfg3() {
  SimConfig c;
  c.cpus = 3;
  return c;
}

ObjId x_obj() { return make_obj(objclass::kCounter, 50); }

// Two locks taken in both orders (a deadlock in some schedules), a work item for the
// worker, an oops in some schedules, and call chains deeper than the inline frames.
struct MixWorld : World {
  uint32_t m, s, work;
  int64_t x = 0;
  MixWorld() {
    m = add_lock("M", LockKind::Mutex);
    s = add_lock("S", LockKind::Spin);
    work = init_work(*this, [](World& w, uint64_t) {
      MODEL_FUNC("bump");
      atomic_add_return<int64_t>(1, static_cast<MixWorld&>(w).x, x_obj());
    }, 0, "bump");
  }
};

// A chain of `depth` calls; at the bottom, x++; A's increment oopses if it comes first.
void deep(MixWorld& w, int depth, bool may_oops) {
  MODEL_FUNC("deep");
  if (depth) return deep(w, depth - 1, may_oops);
  if (atomic_add_return<int64_t>(1, w.x, x_obj()) == 1 && may_oops) OOPS("x was 0");
}

// Counts the tasks whose stacks are gone (returned, killed or unwound).
struct Ended {
  int& n;
  ~Ended() { ++n; }
};

// `b_first`: B gets the first TaskId (a stale holder from the last run would name the
// wrong task).
void spawn_mix(Sim& sim, MixWorld& w, int& ended, bool b_first) {
  auto spawn_b = [&] {
    sim.spawn(1, "B", [&w, &ended] {
      Ended e{ended};
      MODEL_FUNC("task_b");
      spin_lock(w.locks[w.s].spin);
      mutex_lock(w.locks[w.m].mutex);
      mutex_unlock(w.locks[w.m].mutex);
      spin_unlock(w.locks[w.s].spin);
      deep(w, 3, false);
    });
  };
  if (b_first) spawn_b();
  sim.spawn(0, "A", [&w, &ended] {
    Ended e{ended};
    MODEL_FUNC("task_a");
    mutex_lock(w.locks[w.m].mutex);
    spin_lock(w.locks[w.s].spin);
    spin_unlock(w.locks[w.s].spin);
    mutex_unlock(w.locks[w.m].mutex);
    schedule_work(w, w.work);
    deep(w, 40, true);
  });
  if (!b_first) spawn_b();
  sim.spawn(2, "a task name longer than the small-string buffer", [&w, &ended] {
    Ended e{ended};
    MODEL_FUNC("task_c");
    deep(w, 40, false);
    flush_work(w, w.work);
  });
  sim.set_teardown([&w](Sim& s) {
    Outcome o;
    o.kind = OutcomeKind::Warn;
    o.function = "x=" + std::to_string(w.x);
    s.add_outcome(o);
  });
}

// Stops the run (Strategy::kStop) at a given step, random before it.
class StopAt final : public Strategy {
 public:
  StopAt(uint64_t seed, uint64_t step) : rng_(seed), step_(step) {}
  std::string name() const override { return "stop-at"; }
  size_t choose(const Sim& sim, std::span<const Candidate> c) override {
    return sim.steps() >= step_ ? kStop : size_t(rng_.below(c.size()));
  }
  bool sees_every_step() const override { return true; }

 private:
  Rng rng_;
  uint64_t step_;
};

std::unique_ptr<Strategy> strategy(uint64_t seed) {
  switch (seed % 4) {
    case 0: return std::make_unique<RandomStrategy>(seed);
    case 1: return std::make_unique<RandomStrategy>(seed, 8);
    case 2: return std::make_unique<TimedStrategy>(seed);
    default: return std::make_unique<StopAt>(seed, seed % 40);
  }
}

void expect_same(const RunResult& a, const RunResult& b) {
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.clock, b.clock);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.schedule, b.schedule);
  EXPECT_EQ(a.task_names, b.task_names);
  EXPECT_EQ(a.stopped, b.stopped);
  ASSERT_EQ(a.trace.size(), b.trace.size());
  for (size_t i = 0; i < a.trace.size(); ++i) {
    const TraceRecord &x = a.trace[i], &y = b.trace[i];
    EXPECT_TRUE(x.step == y.step && x.clock == y.clock && x.obj == y.obj && x.func == y.func &&
                x.line == y.line && x.task == y.task && x.cpu == y.cpu && x.kind == y.kind &&
                x.op == y.op && x.rw == y.rw)
        << "trace record " << i;
  }
  ASSERT_EQ(a.outcomes.size(), b.outcomes.size());
  for (size_t i = 0; i < a.outcomes.size(); ++i) {
    const Outcome &x = a.outcomes[i], &y = b.outcomes[i];
    EXPECT_EQ(x.report(), y.report());
    EXPECT_EQ(x.backtrace, y.backtrace);
    EXPECT_TRUE(x.task == y.task && x.cpu == y.cpu && x.task_name == y.task_name &&
                x.time == y.time && x.step == y.step)
        << x.key();
  }
}

}  // namespace

TEST(SimReuse, AResetSimRunsExactlyAsANewOne) {
  const MixWorld initial;
  MixWorld reused_world = initial;
  Sim reused(cfg3(), &reused_world, strategy(0));
  std::set<std::string> keys;
  bool stopped = false, deep_backtrace = false;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RunResult fresh;
    int fresh_ended = 0, fresh_ended_in_run = 0;
    {
      MixWorld w = initial;
      Sim sim(cfg3(), &w, strategy(seed));
      spawn_mix(sim, w, fresh_ended, seed / 4 % 2);
      fresh = sim.run();
      fresh_ended_in_run = fresh_ended;
    }  // the Sim ends its unfinished tasks
    ASSERT_EQ(fresh_ended, 3);

    int ended = 0;
    reused_world = initial;
    reused.reset(&reused_world, strategy(seed));
    spawn_mix(reused, reused_world, ended, seed / 4 % 2);
    const RunResult again = reused.run();
    EXPECT_EQ(ended, fresh_ended_in_run);  // unfinished tasks wait for end_run()
    reused.end_run();
    EXPECT_EQ(ended, 3);
    EXPECT_EQ(reused.task_count(), 0u);
    expect_same(fresh, again);

    for (const auto& o : fresh.outcomes) {
      keys.insert(o.key());
      deep_backtrace |= o.backtrace.size() > FrameStack::kInline;
    }
    stopped |= fresh.stopped;
  }
  // The runs covered what a reset must get right.
  EXPECT_TRUE(keys.count("deadlock") && keys.count("oops:deep")) << keys.size();
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(deep_backtrace);
}

TEST(SimReuse, IdleWorkersReturnAndWaitersUnwindWhenTheOwnerEndsTheRun) {
  World w;
  bool returned = false, unwound = false;
  Sim sim(cfg3(), &w, std::make_unique<RandomStrategy>(1));
  for (int run = 0; run < 3; ++run) {
    returned = unwound = false;
    if (run) sim.reset(&w, std::make_unique<RandomStrategy>(1));
    spawn_stuck_and_idle_worker(sim, w, returned, unwound);
    const RunResult r = sim.run();
    ASSERT_EQ(r.outcomes.size(), 1u);
    EXPECT_EQ(r.outcomes[0].kind, OutcomeKind::Hang);  // asleep on a lock nobody holds
    EXPECT_EQ(r.task_names, (std::vector<std::string>{"stuck", "worker", "kworker/0:events"}));
    EXPECT_FALSE(returned || unwound);
    sim.end_run();
    EXPECT_TRUE(returned);
    EXPECT_TRUE(unwound);
  }
}

TEST(SimReuse, TheStrategyAndTheChecksAreReleasedWhenTheRunEnds) {
  // As when a run's Sim is destroyed: what they refer to may go away after the run.
  struct Watched final : Strategy {
    bool& gone;
    explicit Watched(bool& g) : gone(g) {}
    ~Watched() override { gone = true; }
    std::string name() const override { return "watched"; }
    size_t choose(const Sim&, std::span<const Candidate>) override { return 0; }
  };
  World w;
  bool gone = false;
  auto token = std::make_shared<int>(0);
  Sim sim(cfg3(), &w, std::make_unique<Watched>(gone));
  sim.set_teardown([token](Sim&) {});
  sim.set_step_check([token](Sim&) {});
  sim.spawn(0, "A", [] { delay(1); });
  sim.spawn(1, "B", [] { delay(1); });
  EXPECT_TRUE(sim.run().ok());
  EXPECT_FALSE(gone);
  EXPECT_EQ(token.use_count(), 3);
  sim.end_run();
  EXPECT_TRUE(gone);
  EXPECT_EQ(token.use_count(), 1);
}

TEST(SimReuse, TaskNamesAreLeftOutWhenNotWanted) {
  World w;
  SimConfig c = cfg3();
  c.task_names = false;
  Sim sim(c, &w, std::make_unique<RandomStrategy>(1));
  sim.spawn(0, "A", [] { delay(1); });
  const RunResult r = sim.run();
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.task_names.empty());
  EXPECT_EQ(sim.task(0).name, "A");
}
