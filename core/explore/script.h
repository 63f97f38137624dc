// Scripted interleavings by breakpoints a kernel developer would name: run CPU 0 until it
// is about to call unlock_page on page T, then CPU 2 to the end, then CPU 1 ... Steps the
// script does not decide (the scripted CPU is blocked, or the script is over) fall to the
// fallback strategy.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/sim.h"

namespace pagesim {

struct ScriptStep {
  enum class Until : uint8_t {
    Done,    // until the CPU has nothing left to run
    Before,  // until it is about to perform an operation inside `func` (on `obj`)
    After,   // until it has returned from `func` (entered on `obj`)
    Steps,   // for `count` operations
  };
  CpuId cpu = 0;
  Until until = Until::Done;
  uint32_t func = 0;  // interned model function name
  ObjId obj = kNoObj; // kNoObj: any object
  uint64_t count = 0;
  bool stop = false;  // end the run where this step is over (the state there is the result)
  std::string describe() const;
};

// How far the run got through a step. A breakpoint (Before, After) or Steps that never
// matched is what makes a scripted "proof" vacuous: run() refuses it.
struct ScriptStepStatus {
  bool reached = false;      // the script got to this step
  bool matched = false;      // its breakpoint was hit (Done: always)
  bool context_ended = false;  // its CPU ran out of work first
  uint32_t last_func = 0;    // the innermost model function its CPU was in when it last ran
  uint64_t ops = 0;          // operations its CPU ran in this step
};

class ScriptStrategy final : public Strategy {
 public:
  // `status`, if given, is kept up to date with each step's ScriptStepStatus.
  ScriptStrategy(std::vector<ScriptStep> steps, std::unique_ptr<Strategy> fallback,
                 std::shared_ptr<std::vector<ScriptStepStatus>> status = nullptr);
  std::string name() const override { return "script"; }
  size_t choose(const Sim& sim, std::span<const Candidate> c) override;
  bool sees_every_step() const override { return true; }
  void finish(const Sim& sim) override { choose(sim, {}); }
  // Index of the script step in progress (steps().size() when the script is over).
  size_t position() const { return pos_; }
  const std::vector<ScriptStep>& steps() const { return steps_; }

 private:
  enum class End : uint8_t { No, Matched, ContextEnded };
  // Whether step `s` is over, and how.
  End finished(const Sim& sim, const ScriptStep& s, std::span<const Candidate> c);
  std::vector<ScriptStep> steps_;
  std::unique_ptr<Strategy> fallback_;
  std::shared_ptr<std::vector<ScriptStepStatus>> status_;
  size_t pos_ = 0;
  uint64_t taken_ = 0;  // operations run in the current step
  bool seen_ = false;   // After: the function was entered during this step
};

}  // namespace pagesim
