#include "explore/tree.h"

#include <bit>

#include "engine/rng.h"

namespace pagesim {

namespace {
inline uint64_t bit(CpuId c) { return uint64_t(1) << c; }
inline CpuId lowest(uint64_t mask) { return CpuId(std::countr_zero(mask)); }
}  // namespace

class TreeSearch::Strat final : public Strategy {
 public:
  explicit Strat(TreeSearch* t) : t_(t) {}
  std::string name() const override { return t_->cfg_.dpor ? "dpor" : "dfs"; }
  size_t choose(const Sim& s, std::span<const Candidate> c) override { return t_->choose(s, c); }
  bool sees_every_step() const override { return true; }

 private:
  TreeSearch* t_;
};

TreeSearch::TreeSearch(TreeConfig cfg) : cfg_(cfg) {}
TreeSearch::~TreeSearch() = default;

uint64_t TreeSearch::allowed(const Node& n) const {
  if (cfg_.preemption_bound != ~0u && n.cont != kNoCpu && n.preempts >= cfg_.preemption_bound)
    return bit(n.cont);
  return ~uint64_t(0);
}

std::unique_ptr<Strategy> TreeSearch::next() {
  if (!first_) {
    // Branch at the deepest node with an untried alternative.
    size_t d = nodes_.size();
    uint64_t alt = 0;
    while (d-- > 0) {
      const Node& n = nodes_[d];
      alt = n.backtrack & ~n.done & ~n.sleep & allowed(n);
      if (alt) break;
    }
    if (!alt) return nullptr;
    nodes_.resize(d + 1);
    next_.resize((d + 1) * ncpu_);
    nodes_[d].chosen = lowest(alt);
    nodes_[d].done |= bit(nodes_[d].chosen);
    branch_ = d;
  }
  first_ = false;
  reset_execution();
  return std::make_unique<Strat>(this);
}

void TreeSearch::reset_execution() {
  depth_ = 0;
  blocked_ = owned_known_ = false;
  signature_ = 0;
  step_cpu_.clear();
  step_dep_.clear();
  step_cpu_writes_.clear();
  objs_.clear();
  calls_.clear();
  calls_clock_ = all_clock_ = Clock{};
  for (auto& c : cpu_) c = CpuClocks{};
}

TreeSearch::Fate TreeSearch::finish(bool stopped) {
  if (stopped) return blocked_ ? Fate::Redundant : Fate::OtherWorker;
  if (cfg_.workers > 1 && !owned_known_ && signature_ % cfg_.workers != cfg_.worker)
    return Fate::OtherWorker;
  return Fate::Complete;
}

// A CPU's tasks (current and queued): a wake-up that changes them writes the CPU.
uint64_t TreeSearch::cpu_state(const Sim& sim, CpuId c) const {
  const Cpu& cpu = sim.cpu(c);
  uint64_t h = hash_mix(cpu.current, cpu.runqueue.size());
  for (TaskId t : cpu.runqueue) h = hash_mix(h, t);
  return h;
}

namespace {
void join(uint32_t* a, const uint32_t* b, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) a[i] = std::max(a[i], b[i]);
}
// A Python call, or an operation that names no object, may touch anything.
bool touches_all(const auto& d) {
  return d.op == Op::Call || (d.obj == kNoObj && d.op != Op::Delay);
}
bool touches_obj(const auto& d) { return d.obj != kNoObj && d.op != Op::Delay && d.op != Op::Call; }
// Two operations conflict when either may touch anything, or both touch one object and
// one of them writes it.
bool conflict(const auto& a, const auto& b) {
  return touches_all(a) || touches_all(b) ||
         (touches_obj(a) && touches_obj(b) && a.obj == b.obj &&
          (a.rw == Access::Write || b.rw == Access::Write));
}
}  // namespace

// The step just run (depth_ - 1): which CPUs' runqueues it changed, races of that
// wake-up with earlier steps, then the happens-before clocks.
void TreeSearch::account_step(const Sim& sim) {
  const uint32_t k = uint32_t(depth_ - 1);
  const CpuId p = step_cpu_[k];
  uint64_t writes = 0;
  for (CpuId c = 0; c < ncpu_; ++c) {
    const uint64_t s = cpu_state(sim, c);
    if (c != p && s != cpu_sig_[c]) writes |= bit(c);
    cpu_sig_[c] = s;
  }
  step_cpu_writes_.push_back(writes);
  const Dep& d = step_dep_[k];
  constexpr Dep kNothing{kNoObj, Op::Delay, Access::Read};
  if (writes && k >= branch_) race_check(k, p, kNothing, writes);

  ObjClocks* o = touches_obj(d) ? &objs_[d.obj] : nullptr;
  Clock v = cpu_[p].now;
  const uint32_t n = ncpu_;
  if (touches_all(d)) join(v.c, all_clock_.c, n);
  if (o) join(v.c, d.rw == Access::Write ? o->all.c : o->writes.c, n);
  join(v.c, calls_clock_.c, n);
  join(v.c, cpu_[p].writes.c, n);
  for (uint64_t w = writes; w; w &= w - 1) join(v.c, cpu_[lowest(w)].all.c, n);
  v.c[p] = k + 1;

  cpu_[p].now = v;
  join(cpu_[p].all.c, v.c, n);
  cpu_[p].steps.push_back(k);
  if (o) {
    join(o->all.c, v.c, n);
    if (d.rw == Access::Write) join(o->writes.c, v.c, n);
    o->steps.push_back(k);
  }
  if (touches_all(d)) {
    join(calls_clock_.c, v.c, n);
    calls_.push_back(k);
  }
  join(all_clock_.c, v.c, n);
  for (uint64_t w = writes; w; w &= w - 1) {
    CpuClocks& q = cpu_[lowest(w)];
    join(q.all.c, v.c, n);
    join(q.writes.c, v.c, n);
    q.writers.push_back(k);
  }
}

// Flanagan-Godefroid: the latest step i before k that conflicts with CPU p's operation
// `d` (and its wake-ups of `cpu_writes`) without happening before p could have run the
// other way round: try p at i's node, or every CPU there if p could not run then.
void TreeSearch::race_check(uint32_t k, CpuId p, const Dep& d, uint64_t cpu_writes) {
  int64_t best = -1;
  auto scan = [&](const std::vector<uint32_t>& steps, auto&& conflicts) {
    for (size_t j = steps.size(); j-- > 0;) {
      const uint32_t i = steps[j];
      if (int64_t(i) <= best) return;
      if (i >= k || step_cpu_[i] == p || happens_before(i, p) || !conflicts(i)) continue;
      best = i;
      return;
    }
  };
  auto any = [](uint32_t) { return true; };
  if (touches_all(d)) {
    for (uint32_t i = k; i-- > 0;)
      if (step_cpu_[i] != p && !happens_before(i, p)) {
        best = i;
        break;
      }
  } else {
    if (touches_obj(d))
      if (auto it = objs_.find(d.obj); it != objs_.end())
        scan(it->second.steps, [&](uint32_t i) { return conflict(d, step_dep_[i]); });
    scan(calls_, any);
    scan(cpu_[p].writers, any);  // wake-ups onto p's runqueue
  }
  for (uint64_t w = cpu_writes; w; w &= w - 1) {
    scan(cpu_[lowest(w)].steps, any);
    scan(cpu_[lowest(w)].writers, any);
  }
  if (best < 0) return;
  auto try_p = [p](Node& n) { n.backtrack |= (n.enabled & bit(p)) ? bit(p) : n.enabled; };
  try_p(nodes_[size_t(best)]);
  if (cfg_.preemption_bound == ~0u) return;
  // Bounded (Coons, Musuvathi, McKinley, OOPSLA 2013): trying p at i may cost a
  // preemption the bound forbids, so also try it where i's CPU was switched in.
  size_t j = size_t(best);
  while (j > 0 && step_cpu_[j - 1] == step_cpu_[j]) --j;
  try_p(nodes_[j]);
}

size_t TreeSearch::choose(const Sim& sim, std::span<const Candidate> c) {
  if (!ncpu_) {
    ncpu_ = sim.config().cpus;
    if (ncpu_ > kMaxCpus)
      throw UsageError("dfs and dpor explore machines of up to 64 CPUs, not " +
                       std::to_string(ncpu_));
    cpu_.resize(ncpu_);
    cpu_sig_.assign(ncpu_, 0);
  }
  if (cfg_.dpor) {
    if (depth_ > 0)
      account_step(sim);
    else
      for (CpuId i = 0; i < ncpu_; ++i) cpu_sig_[i] = cpu_state(sim, i);
  }
  const size_t k = depth_;
  uint64_t enabled = 0;
  for (const auto& x : c) enabled |= bit(x.cpu);

  if (k < nodes_.size()) {  // the replayed prefix, and the branch node
    if (nodes_[k].enabled != enabled)
      throw UsageError("nondeterministic scenario: step " + std::to_string(k) +
                       " offers other CPUs than in an earlier execution of the same schedule "
                       "(does a Python task depend on state outside the simulation?)");
  } else {
    Node n;
    n.enabled = enabled;
    next_.resize((k + 1) * ncpu_);
    for (const auto& x : c) next_[k * ncpu_ + x.cpu] = {x.op->obj, x.op->op, x.op->rw};
    if (k > 0) {
      const Node& parent = nodes_[k - 1];
      const CpuId last = parent.chosen;
      n.cont = (enabled & bit(last)) ? last : kNoCpu;
      n.preempts = parent.preempts + (parent.cont != kNoCpu && parent.chosen != parent.cont);
      n.branching = parent.branching + (std::popcount(parent.enabled) > 1);
      if (cfg_.dpor && cfg_.preemption_bound == ~0u) {
        // Sleep sets: a CPU explored (or asleep) at the parent stays asleep while the
        // steps taken do not conflict with its next operation. (Not with a bound: the
        // equivalent execution explored may need more preemptions than the bound.)
        const Dep& s = step_dep_[k - 1];
        const uint64_t sw = step_cpu_writes_[k - 1];
        for (uint64_t q = (parent.sleep | parent.done) & ~bit(last) & enabled; q; q &= q - 1) {
          const CpuId cq = lowest(q);
          if (!(sw & bit(cq)) && !conflict(next_of(k - 1, cq), s)) n.sleep |= bit(cq);
        }
      }
    }
    n.full = n.branching < cfg_.split && std::popcount(enabled) > 1;
    n.backtrack = (!cfg_.dpor || n.full) ? enabled : 0;
    if (cfg_.dpor)
      for (const auto& x : c) race_check(uint32_t(k), x.cpu, next_of(k, x.cpu), 0);
    const uint64_t can = enabled & ~n.sleep & allowed(n);
    if (!can) {
      nodes_.push_back(n);
      blocked_ = true;  // every CPU sleeps: all that follows was explored elsewhere
      return Strategy::kStop;
    }
    n.chosen = (n.cont != kNoCpu && (can & bit(n.cont))) ? n.cont : lowest(can);
    n.done = bit(n.chosen);
    nodes_.push_back(n);
  }
  const Node& n = nodes_[k];
  if (n.full) {
    signature_ = hash_mix(signature_, n.chosen);
    if (cfg_.workers > 1 && n.branching + 1 == cfg_.split) {
      owned_known_ = true;
      if (signature_ % cfg_.workers != cfg_.worker) return Strategy::kStop;
    }
  }
  step_cpu_.push_back(n.chosen);
  step_dep_.push_back(next_of(k, n.chosen));
  ++depth_;
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i].cpu == n.chosen) return i;
  return 0;  // not reached: enabled matched
}

}  // namespace pagesim
