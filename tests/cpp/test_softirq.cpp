// Softirq contexts (SimConfig::softirq): they interrupt their CPU's task where it has
// bottom halves enabled, run to their end, and cannot sleep.
#include <gtest/gtest.h>

#include "engine/sim.h"
#include "engine/world.h"
#include "explore/explorer.h"

using namespace pagesim;

namespace {

struct LockWorld : World {
  uint32_t l = add_lock("L", LockKind::Spin);
};

// How the writer takes L: spin_lock, spin_lock_bh, or spin_lock_irqsave (interrupts off
// keep a softirq out too).
enum class Take { Plain, Bh, Irqsave };

// The writer holds L for one step; the softirq of its CPU takes L.
RunResult run_writer_and_softirq(Take take, uint64_t seed) {
  LockWorld w;
  SimConfig cfg;
  cfg.cpus = 1;
  cfg.softirq = true;
  Sim sim(cfg, &w, std::make_unique<RandomStrategy>(seed));
  SpinLock& l = w.locks[w.l].spin;
  sim.spawn(0, "writer", [&] {
    if (take == Take::Bh) spin_lock_bh(l);
    else if (take == Take::Irqsave) spin_lock_irqsave(l);
    else spin_lock(l);
    delay(10);
    if (take == Take::Bh) spin_unlock_bh(l);
    else if (take == Take::Irqsave) spin_unlock_irqrestore(l);
    else spin_unlock(l);
  });
  sim.spawn(0, "softirq", [&] {
    spin_lock(l);
    spin_unlock(l);
  }, false, /*softirq=*/true);
  return sim.run();
}

}  // namespace

TEST(Softirq, InterruptsWhereBottomHalvesAreOnAndDeadlocksOnItsTasksLock) {
  int deadlocks = 0, bh_deadlocks = 0, irq_deadlocks = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const RunResult r = run_writer_and_softirq(Take::Plain, seed);
    deadlocks += !r.ok();
    if (!r.ok()) EXPECT_EQ(r.outcomes[0].key(), "deadlock");
    bh_deadlocks += !run_writer_and_softirq(Take::Bh, seed).ok();
    irq_deadlocks += !run_writer_and_softirq(Take::Irqsave, seed).ok();
  }
  EXPECT_GT(deadlocks, 0);  // the softirq came while the writer held L
  EXPECT_LT(deadlocks, 200);
  EXPECT_EQ(bh_deadlocks, 0);
  EXPECT_EQ(irq_deadlocks, 0);
}

TEST(Softirq, CannotSleepAndNeedsTheMachinesConsent) {
  World w;
  const uint32_t m = w.add_lock("M", LockKind::Mutex);
  SimConfig cfg;
  cfg.cpus = 1;
  EXPECT_THROW(Sim(cfg, &w, std::make_unique<RandomStrategy>(1))
                   .spawn(0, "s", [] {}, false, /*softirq=*/true),
               UsageError);
  cfg.softirq = true;
  int bugs = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Sim sim(cfg, &w, std::make_unique<RandomStrategy>(seed));
    Mutex& mutex = w.locks[m].mutex;
    sim.spawn(0, "holder", [&] {
      mutex_lock(mutex);
      delay(10);
      mutex_unlock(mutex);
    });
    sim.spawn(0, "s", [&] {
      mutex_lock(mutex);
      mutex_unlock(mutex);
    }, false, /*softirq=*/true);
    const RunResult r = sim.run();
    if (r.ok()) continue;
    ASSERT_EQ(r.outcomes.size(), 1u);
    EXPECT_EQ(r.outcomes[0].key(), "bug:__schedule_bug");  // it would sleep on the holder
    EXPECT_EQ(r.outcomes[0].message, "scheduling while atomic");
    ++bugs;
  }
  EXPECT_GT(bugs, 0);
}
