#include "explore/dfs.h"

#include "explore/tree.h"

namespace pagesim {

DfsStats explore_dfs(const std::function<bool(std::unique_ptr<Strategy>)>& execute,
                     uint64_t max_executions, uint32_t preemption_bound) {
  DfsStats st;
  TreeSearch tree({.dpor = false, .preemption_bound = preemption_bound});
  for (;;) {
    auto s = tree.next();
    if (!s) {
      st.exhausted = true;
      break;
    }
    if (st.executions >= max_executions) break;
    ++st.executions;
    if (!execute(std::move(s))) break;
    tree.finish(RunResult{});
  }
  return st;
}

}  // namespace pagesim
