#include "explore/dfs.h"

namespace pagesim {

size_t DfsStrategy::choose(const Sim&, std::span<const Candidate> c) {
  int32_t cont = -1;  // the CPU that ran last, if it can go on: taking another preempts it
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i].cpu == last_) cont = int32_t(i);
  const size_t depth = path_->size();
  size_t pick = 0;
  if (depth < prefix_.size())
    pick = std::min<size_t>(prefix_[depth].index, c.size() - 1);
  else if (cont >= 0 && preemptions_ >= bound_)
    pick = size_t(cont);
  path_->push_back({uint32_t(pick), uint32_t(c.size()), cont, preemptions_});
  if (cont >= 0 && int32_t(pick) != cont) ++preemptions_;
  last_ = c[pick].cpu;
  return pick;
}

DfsStats explore_dfs(const std::function<bool(std::unique_ptr<Strategy>)>& execute,
                     uint64_t max_executions, uint32_t preemption_bound) {
  DfsStats st;
  std::vector<DfsStrategy::Choice> prefix, path;
  while (st.executions < max_executions) {
    path.clear();
    const bool go_on = execute(std::make_unique<DfsStrategy>(prefix, preemption_bound, &path));
    ++st.executions;
    if (!go_on) return st;
    // Backtrack to the deepest choice with an untried alternative within the bound.
    for (;;) {
      if (path.empty()) {
        st.exhausted = true;
        return st;
      }
      auto& ch = path.back();
      bool advanced = false;
      while (ch.index + 1 < ch.count) {
        ch.index++;
        const bool preempts = ch.cont >= 0 && int32_t(ch.index) != ch.cont;
        if (!preempts || ch.preempts < preemption_bound) {
          advanced = true;
          break;
        }
      }
      if (advanced) break;
      path.pop_back();
    }
    prefix = path;
  }
  return st;
}

}  // namespace pagesim
