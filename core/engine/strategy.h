// The narrow interface that decides which CPU performs its next operation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "engine/types.h"

namespace pagesim {

class Sim;

// One eligible CPU at a step: its running task is stopped at a scheduling point.
struct Candidate {
  CpuId cpu;
  TaskId task;
  Nanos clock;
  const OpDesc* op;  // the operation it will perform if chosen
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // Called only when there is a real choice (two or more candidates, sorted by CPU id).
  // Returns an index into `c`, or kStop to end the run here (exploration cuts an
  // execution that is redundant or belongs to another worker; RunResult::stopped). Only
  // a strategy that sees_every_step() may stop.
  virtual size_t choose(const Sim& sim, std::span<const Candidate> c) = 0;
  static constexpr size_t kStop = ~size_t(0);
  // An earliest-first strategy lets the Sim take the first CPU in its clock order,
  // ties broken by random keys the Sim draws from tie_seed() when a CPU is queued:
  // no candidate list, no call per step.
  virtual bool earliest_first() const { return false; }
  virtual uint64_t tie_seed() const { return 0; }
  // A strategy that tracks progress (a script) is asked at every step, even forced ones.
  virtual bool sees_every_step() const { return false; }
  // Called once when the run is over, before its teardown checks (a script settles the
  // step in progress).
  virtual void finish(const Sim&) {}
};

// Random among the eligible CPUs (seeded). With run_length L > 1 the CPU that ran last
// goes on with probability 1 - 1/L (runs of about L steps, like time slices); L = 1 is a
// uniform choice at every step.
class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(uint64_t seed, uint32_t run_length = 1)
      : rng_(seed), run_length_(run_length ? run_length : 1) {}
  std::string name() const override { return "random"; }
  size_t choose(const Sim&, std::span<const Candidate> c) override;

 private:
  Rng rng_;
  uint32_t run_length_;
  CpuId last_ = kNoCpu;
};

// Earliest clock first; ties broken by the seed. With window 0 this is a plain
// discrete-event simulation.
class TimedStrategy final : public Strategy {
 public:
  explicit TimedStrategy(uint64_t seed) : rng_(seed), tie_seed_(rng_.next() | 1) {}
  std::string name() const override { return "timed"; }
  size_t choose(const Sim&, std::span<const Candidate> c) override;
  bool earliest_first() const override { return true; }
  uint64_t tie_seed() const override { return tie_seed_; }

 private:
  Rng rng_;
  uint64_t tie_seed_;
};

// Follows a recorded list of CPU choices, one per step; past its end, the fallback
// decides (the unscripted part of a schedule). A recorded CPU that is not eligible
// makes the schedule stale: the run stops with an error, never silently diverges.
class ReplayStrategy final : public Strategy {
 public:
  // stop_at_end: the run ends where the choices do (the state after a prefix of a run).
  ReplayStrategy(std::vector<CpuId> choices, std::unique_ptr<Strategy> fallback,
                 bool stop_at_end = false)
      : choices_(std::move(choices)), fallback_(std::move(fallback)), stop_at_end_(stop_at_end) {}
  std::string name() const override { return "replay"; }
  size_t choose(const Sim& sim, std::span<const Candidate> c) override;
  bool sees_every_step() const override { return stop_at_end_; }
  // Checked by the Sim at every step, including forced ones.
  bool exhausted(uint64_t step) const { return step >= choices_.size(); }
  CpuId expected(uint64_t step) const { return choices_[step]; }

 private:
  std::vector<CpuId> choices_;
  std::unique_ptr<Strategy> fallback_;
  bool stop_at_end_ = false;
};

}  // namespace pagesim
