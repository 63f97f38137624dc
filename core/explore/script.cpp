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

ScriptStrategy::ScriptStrategy(std::vector<ScriptStep> steps, std::unique_ptr<Strategy> fallback,
                               std::shared_ptr<std::vector<ScriptStepStatus>> status)
    : steps_(std::move(steps)), fallback_(std::move(fallback)), status_(std::move(status)) {
  if (!fallback_) throw UsageError("a script needs a fallback strategy");
  if (status_) status_->assign(steps_.size(), {});
}

namespace {

bool in_frame(const Task& t, uint32_t func) {
  for (uint32_t f : t.frames)
    if (f == func) return true;
  return false;
}

}  // namespace

// Whether step `s` is over, looking at the CPU's next operation (if it can run).
ScriptStrategy::End ScriptStrategy::finished(const Sim& sim, const ScriptStep& s,
                                             std::span<const Candidate> c) {
  const Cpu& cpu = sim.cpu(s.cpu);
  if (cpu.current == kNoTask && cpu.runqueue.empty()) {  // nothing left to run
    const bool hit = (s.until == ScriptStep::Until::After && seen_) ||
                     (s.until == ScriptStep::Until::Steps && taken_ >= s.count);
    return hit ? End::Matched : End::ContextEnded;
  }
  if (cpu.current == kNoTask) return End::No;
  const Task& t = sim.task(cpu.current);
  const bool ready = std::any_of(c.begin(), c.end(), [&](const Candidate& x) { return x.cpu == s.cpu; });
  bool hit = false;
  switch (s.until) {
    case ScriptStep::Until::Done:
      break;
    case ScriptStep::Until::Steps:
      hit = taken_ >= s.count;
      break;
    case ScriptStep::Until::Before:
      hit = ready && in_frame(t, s.func) && (s.obj == kNoObj || t.pending.obj == s.obj);
      break;
    case ScriptStep::Until::After: {
      const bool inside = in_frame(t, s.func);
      if (inside && (s.obj == kNoObj || t.pending.obj == s.obj)) seen_ = true;
      hit = seen_ && !inside && ready;
      break;
    }
  }
  return hit ? End::Matched : End::No;
}

size_t ScriptStrategy::choose(const Sim& sim, std::span<const Candidate> c) {
  while (pos_ < steps_.size()) {
    const End end = finished(sim, steps_[pos_], c);
    if (end == End::No) break;
    const bool stop = steps_[pos_].stop && end == End::Matched;
    if (status_) {
      ScriptStepStatus& st = (*status_)[pos_];
      st.reached = true;
      st.matched = end == End::Matched || steps_[pos_].until == ScriptStep::Until::Done;
      st.context_ended = end == End::ContextEnded;
    }
    ++pos_;
    taken_ = 0;
    seen_ = false;
    if (stop) return kStop;  // the run ends here, its state as it is now
  }
  if (pos_ < steps_.size()) {
    const CpuId cpu = steps_[pos_].cpu;
    if (status_) (*status_)[pos_].reached = true;
    for (size_t i = 0; i < c.size(); ++i)
      if (c[i].cpu == cpu) {
        ++taken_;
        if (status_) {
          ScriptStepStatus& st = (*status_)[pos_];
          st.ops = taken_;
          st.last_func = sim.task(sim.cpu(cpu).current).frames.top();
        }
        return i;
      }
  }
  // The script is over, or its CPU cannot run now (it waits for another): the fallback
  // decides, among every candidate.
  if (c.empty()) return kStop;  // finish(): the run is over
  return c.size() == 1 ? 0 : fallback_->choose(sim, c);
}

}  // namespace pagesim
