#include "explore/script.h"

#include "engine/intern.h"
#include "engine/objclass.h"

namespace pagesim {

std::string ScriptStep::describe() const {
  std::string s = "cpu" + std::to_string(cpu);
  switch (until) {
    case Until::Done: return s + " to the end";
    case Until::Steps: return s + " for " + std::to_string(count) + " operations";
    case Until::Before: s += " until before " + interned(func); break;
    case Until::After: s += " until after " + interned(func); break;
  }
  if (obj != kNoObj) s += " on " + obj_label(obj);
  return s;
}

ScriptStrategy::ScriptStrategy(std::vector<ScriptStep> steps, std::unique_ptr<Strategy> fallback)
    : steps_(std::move(steps)), fallback_(std::move(fallback)) {
  if (!fallback_) throw UsageError("a script needs a fallback strategy");
}

namespace {

bool in_frame(const Task& t, uint32_t func) {
  for (uint32_t f : t.frames)
    if (f == func) return true;
  return false;
}

}  // namespace

// Whether step `s` is over, looking at the CPU's next operation (if it can run).
bool ScriptStrategy::finished(const Sim& sim, const ScriptStep& s, std::span<const Candidate> c) {
  const Cpu& cpu = sim.cpu(s.cpu);
  if (cpu.current == kNoTask && cpu.runqueue.empty()) return true;  // nothing left to run
  if (cpu.current == kNoTask) return false;
  const Task& t = sim.task(cpu.current);
  const bool ready = std::any_of(c.begin(), c.end(), [&](const Candidate& x) { return x.cpu == s.cpu; });
  switch (s.until) {
    case ScriptStep::Until::Done:
      return false;
    case ScriptStep::Until::Steps:
      return taken_ >= s.count;
    case ScriptStep::Until::Before:
      return ready && in_frame(t, s.func) && (s.obj == kNoObj || t.pending.obj == s.obj);
    case ScriptStep::Until::After: {
      const bool inside = in_frame(t, s.func);
      if (inside && (s.obj == kNoObj || t.pending.obj == s.obj)) seen_ = true;
      return seen_ && !inside && ready;
    }
  }
  return false;
}

size_t ScriptStrategy::choose(const Sim& sim, std::span<const Candidate> c) {
  while (pos_ < steps_.size() && finished(sim, steps_[pos_], c)) {
    ++pos_;
    taken_ = 0;
    seen_ = false;
  }
  if (pos_ < steps_.size()) {
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i].cpu == steps_[pos_].cpu) {
        ++taken_;
        return i;
      }
  }
  // The script is over, or its CPU cannot run now (it waits for another): the fallback
  // decides, among every candidate.
  return c.size() == 1 ? 0 : fallback_->choose(sim, c);
}

}  // namespace pagesim
