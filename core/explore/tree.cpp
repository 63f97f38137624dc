#include "explore/tree.h"

#include <algorithm>
#include <bit>

#include "engine/rng.h"

namespace pagesim {

namespace {
inline uint64_t bit(CpuId c) { return uint64_t(1) << c; }
inline CpuId lowest(uint64_t mask) { return CpuId(std::countr_zero(mask)); }
inline bool many(uint64_t mask) { return mask & (mask - 1); }
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
void join(uint32_t* a, const uint32_t* b, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) a[i] = std::max(a[i], b[i]);
}
// Rows of TreeSearch::last_ (see tree.h), in units of ncpu.
constexpr uint32_t kAnyRow = 0, kAllRow = 1, kWakeRows = 2;
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
      const uint64_t left = n.backtrack & ~n.done & ~n.sleep;
      pruned_ |= (left & ~allowed(n)) != 0;
      alt = left & allowed(n);
      if (alt) break;
    }
    if (!alt) return nullptr;
    subtree_ += nodes_[d].full;  // another choice at a split node: the next subtree
    nodes_.resize(d + 1);
    next_.resize((d + 1) * ncpu_);
    nodes_[d].chosen = lowest(alt);
    nodes_[d].done |= bit(nodes_[d].chosen);
    branch_ = d;
    if (cfg_.dpor) rewind(d);
  }
  first_ = false;
  depth_ = 0;
  blocked_ = other_worker_ = false;
  signature_ = 0;
  return std::make_unique<Strat>(this);
}

void TreeSearch::start(const Sim& sim) {
  ncpu_ = sim.lanes();
  panic_on_oops_ = sim.config().panic_on_oops;
  preempt_ = sim.config().lanes();
  if (ncpu_ > kMaxCpus)
    throw UsageError("dfs and dpor explore machines of up to 64 CPUs (with preempt, 64 tasks), not " +
                     std::to_string(ncpu_));
  cpu_sig_.assign(ncpu_, 0);
  cpu_steps_.resize(ncpu_);
  last_.assign(size_t(kWakeRows + ncpu_) * ncpu_, 0);
}

uint32_t TreeSearch::row(ObjId obj) {
  RowCache& hit = row_cache_[(obj * 0x9e3779b97f4a7c15ull) >> (64 - kRowCacheBits)];
  if (hit.obj == obj) return hit.row;
  auto [it, added] = rows_.try_emplace(obj, uint32_t(last_.size()));
  if (added) last_.resize(last_.size() + 2 * ncpu_, 0);
  hit = {obj, it->second};
  return it->second;
}

// A CPU's tasks (current and queued): a wake-up that changes them writes the CPU. With
// preempt, a step that preempts a lane, gives its CPU back or stops another lane from
// preempting (a spinlock taken) writes that lane.
uint64_t TreeSearch::cpu_state(const Sim& sim, CpuId c) const {
  const Cpu& cpu = sim.cpu(c);
  uint64_t h = hash_mix(cpu.current, cpu.runqueue.size());
  for (TaskId t : cpu.runqueue) h = hash_mix(h, t);
  if (preempt_) h = hash_mix(h, sim.eligible(c) | uint64_t(sim.owns_cpu(c)) << 1);
  return h;
}

uint64_t TreeSearch::runqueue_writes(const Sim& sim, CpuId p) {
  uint64_t writes = 0;
  for (CpuId c = 0; c < ncpu_; ++c) {
    const uint64_t s = cpu_state(sim, c);
    if (c != p && s != cpu_sig_[c]) writes |= bit(c);
    cpu_sig_[c] = s;
  }
  return writes;
}

void TreeSearch::conflicts(CpuId p, const Dep& d, uint64_t writes, uint32_t* out) const {
  const uint32_t n = ncpu_;
  const uint32_t* any = &last_[kAnyRow * n];
  if (touches_all(d)) {
    std::copy_n(any, n, out);
  } else {
    std::copy_n(&last_[kAllRow * n], n, out);
    if (touches_obj(d) && d.row != kNoRow)
      join(out, &last_[d.row + (d.rw == Access::Write ? 0 : n)], n);
  }
  join(out, &last_[(kWakeRows + p) * n], n);  // wake-ups onto p's runqueue
  for (uint64_t w = writes; w; w &= w - 1) {  // p's wake-ups onto other runqueues
    const CpuId c = lowest(w);
    out[c] = std::max(out[c], any[c]);
    join(out, &last_[(kWakeRows + c) * n], n);
  }
  out[p] = 0;
}

// The clock of step k of CPU p that conflicts with `conf`.
void TreeSearch::clock_after(CpuId p, uint32_t k, const uint32_t* conf, uint32_t* out) const {
  const uint32_t n = ncpu_;
  if (const uint32_t l = last_step(p))
    std::copy_n(clock(l - 1), n, out);
  else
    std::fill_n(out, n, 0);
  for (CpuId c = 0; c < n; ++c)
    if (conf[c]) join(out, clock(conf[c] - 1), n);
  out[p] = k + 1;
}

void TreeSearch::set_last(uint32_t idx, uint32_t v) {
  undo_.emplace_back(idx, last_[idx]);
  last_[idx] = v;
}

void TreeSearch::rewind(size_t step) {
  if (step < undo_mark_.size()) {
    for (size_t i = undo_.size(); i-- > undo_mark_[step];) last_[undo_[i].first] = undo_[i].second;
    undo_.resize(undo_mark_[step]);
    undo_mark_.resize(step);
  }
  step_writes_.resize(std::min(step_writes_.size(), step));
  clocks_.resize(std::min(clocks_.size(), step * ncpu_));
  for (auto& s : cpu_steps_)
    while (!s.empty() && s.back() >= step) s.pop_back();
}

// Step k (CPU p) has just run, its wake-ups were `writes`: reverse its races, then add it
// to the happens-before state.
void TreeSearch::account_step(uint32_t k, uint64_t writes) {
  const CpuId p = nodes_[k].chosen;
  const Dep& d = dep_of(k);
  const uint32_t n = ncpu_;
  uint32_t conf[kMaxCpus];
  conflicts(p, d, writes, conf);
  clocks_.resize(size_t(k + 1) * n);
  clock_after(p, k, conf, &clocks_[size_t(k) * n]);
  if (source_mode()) {
    source_races(k, p, conf, clock(k));
  } else if (writes) {
    // Persistent sets check the operations of the enabled CPUs at each node (choose);
    // the wake-ups are known only once the step has run.
    uint32_t woken[kMaxCpus];
    conflicts(p, Dep{kNoObj, Op::Delay, Access::Read}, writes, woken);
    persistent_race(p, woken);
  }

  undo_mark_.push_back(undo_.size());
  step_writes_.push_back(writes);
  cpu_steps_[p].push_back(k);
  set_last(kAnyRow * n + p, k + 1);
  if (touches_all(d)) set_last(kAllRow * n + p, k + 1);
  if (touches_obj(d)) {
    set_last(d.row + p, k + 1);
    if (d.rw == Access::Write) set_last(d.row + n + p, k + 1);
  }
  for (uint64_t w = writes; w; w &= w - 1) set_last((kWakeRows + lowest(w)) * n + p, k + 1);
}

// Flanagan-Godefroid: the latest step i that conflicts with CPU p's operation without
// happening before p could have run the other way round: try p at i's node, or every
// CPU there if p could not run then.
void TreeSearch::persistent_race(CpuId p, const uint32_t* conf) {
  int64_t best = -1;
  for (CpuId c = 0; c < ncpu_; ++c)
    if (conf[c] && int64_t(conf[c] - 1) > best && !happens_before(conf[c] - 1, p))
      best = conf[c] - 1;
  if (best < 0) return;
  try_at(size_t(best), p);
  if (cfg_.preemption_bound == ~0u) return;
  // Bounded (Coons, Musuvathi, McKinley, OOPSLA 2013): trying p at i may cost a
  // preemption the bound forbids, so also try it where i's CPU was switched in.
  // Source sets are not used here: the initial they pick may be cut off by the bound
  // where another would not, and without sleep sets nothing else covers the trace.
  size_t j = size_t(best);
  while (j > 0 && nodes_[j - 1].chosen == nodes_[j].chosen) --j;
  try_at(j, p);
}

// With preempt a lane is also disabled where another lane holds its CPU and cannot be
// preempted (a spinlock held). The step that disabled p (taking the spinlock) is where
// p could have preempted instead: p is tried at the latest node before i, after p's own
// last step, where it could run.
void TreeSearch::try_at(size_t i, CpuId p) {
  Node& n = nodes_[i];
  if (n.enabled & bit(p)) {
    n.backtrack |= bit(p);
    return;
  }
  n.backtrack |= n.enabled;
  if (!preempt_) return;
  for (size_t j = i; j-- > last_step(p);)
    if (nodes_[j].enabled & bit(p)) {
      nodes_[j].backtrack |= bit(p);
      return;
    }
}

// Source sets (Abdulla et al. 2014, Algorithm 1): for each race i -> e (e: step k of
// CPU p, or p's pending operation at the end, with clock vc), v = the steps after i
// that do not happen after it, then e. Unless a CPU that can start v (its first step in
// v has no predecessor in v) is already tried, done or asleep at i's node, try the
// lowest one there. If it could not run then, try every CPU there, as persistent sets
// do (mostly a spinlock release and the spinner's retry, which no order reverses: the
// CPUs there are done already).
void TreeSearch::source_races(uint32_t k, CpuId p, const uint32_t* conf, const uint32_t* vc) {
  const uint32_t n = ncpu_;
  for (CpuId c = 0; c < n; ++c) {
    if (!conf[c]) continue;
    const uint32_t i = conf[c] - 1;
    if (happens_before(i, p)) continue;
    bool direct = true;  // no other conflicting step comes after i
    for (CpuId c2 = 0; c2 < n && direct; ++c2)
      direct = c2 == c || !conf[c2] || clock(conf[c2] - 1)[c] <= i;
    if (!direct) continue;

    constexpr uint32_t kNone = ~0u;
    uint32_t first[kMaxCpus];  // each CPU's first step in v (k: e itself)
    for (CpuId q = 0; q < n; ++q) {
      first[q] = kNone;
      if (q == c) continue;
      const auto& s = cpu_steps_[q];
      auto it = std::upper_bound(s.begin(), s.end(), i);
      if (it != s.end()) {
        if (clock(*it)[c] <= i) first[q] = *it;
      } else if (q == p) {
        first[q] = k;
      }
    }
    uint64_t initials = 0;
    for (CpuId q = 0; q < n; ++q) {
      if (first[q] == kNone) continue;
      const uint32_t* cq = first[q] == k ? vc : clock(first[q]);
      bool initial = true;
      for (CpuId c2 = 0; c2 < n && initial; ++c2)
        initial = c2 == q || first[c2] == kNone || cq[c2] <= first[c2];
      if (initial) initials |= bit(q);
    }
    Node& node = nodes_[i];
    if (initials & (node.backtrack | node.done | node.sleep)) continue;
    try_at(i, lowest(initials));
  }
}

// A run cut short by a panic (an oops or BUG with panic_on_oops) or the step limit: its
// last step disabled every other CPU.
bool TreeSearch::cut_short(const RunResult& r) const {
  for (const auto& o : r.outcomes)
    if (o.kind == OutcomeKind::StepLimit ||
        (panic_on_oops_ && (o.kind == OutcomeKind::Oops || o.kind == OutcomeKind::Bug)))
      return true;
  return false;
}

TreeSearch::Fate TreeSearch::finish(const RunResult& r) {
  preemptions_ = 0;
  if (depth_) {
    const Node& last = nodes_[depth_ - 1];
    preemptions_ = last.preempts + (last.cont != kNoCpu && last.chosen != last.cont);
  }
  const bool stopped = r.stopped;
  if (cfg_.dpor && !stopped && undo_mark_.size() < depth_) {
    const uint32_t k = uint32_t(depth_ - 1);
    const Node& last = nodes_[k];
    // Not with persistent and sleep sets unbounded (source_sets false), which misses
    // traces anyway.
    const bool cut = (source_mode() || cfg_.preemption_bound != ~0u) && cut_short(r);
    // A step that ends the run conflicts with everything the other CPUs would have
    // done. Its node keeps that, so its CPU does not sleep past another's step there.
    if (cut) {
      Dep& d = next_of(k, last.chosen);
      d = {kNoObj, Op::Call, Access::Write};
      // Persistent sets checked its operation before it ran (choose), as what it was
      // then. That it ends the run depends on what it read, so the last race is not
      // enough: reverse its race with each other CPU's last step, as source sets do.
      if (!source_mode()) {
        uint32_t conf[kMaxCpus], one[kMaxCpus];
        conflicts(last.chosen, d, 0, conf);
        for (CpuId c = 0; c < ncpu_; ++c) {
          std::fill_n(one, ncpu_, 0);
          one[c] = conf[c];
          persistent_race(last.chosen, one);
        }
      }
    }
    account_step(k, 0);  // its wake-ups are not seen: nothing runs after them
    // The CPUs it cut off: their pending operations race with it.
    if (cut)
      for (uint64_t q = last.enabled & ~bit(last.chosen); q; q &= q - 1) {
        const CpuId cq = lowest(q);
        uint32_t conf[kMaxCpus], vc[kMaxCpus];
        conflicts(cq, next_of(k, cq), 0, conf);
        if (!source_mode()) {
          persistent_race(cq, conf);
          continue;
        }
        clock_after(cq, k + 1, conf, vc);
        source_races(k + 1, cq, conf, vc);
      }
  }
  // An execution every CPU slept in before the last split node runs in every worker:
  // it is redundant in the one whose subtree it is.
  if (signature_ % cfg_.workers != cfg_.worker) return Fate::OtherWorker;
  if (stopped) return blocked_ ? Fate::Redundant : Fate::OtherWorker;
  return Fate::Complete;
}

size_t TreeSearch::choose(const Sim& sim, std::span<const Candidate> c) {
  if (!ncpu_) start(sim);
  if (other_worker_) return Strategy::kStop;
  const size_t k = depth_;
  uint64_t enabled = 0;
  for (const auto& x : c) enabled |= bit(x.cpu);

  if (k < nodes_.size()) {  // the replayed prefix, and the branch node
    if (nodes_[k].enabled != enabled)
      throw UsageError("nondeterministic scenario: step " + std::to_string(k) +
                       " offers other CPUs than in an earlier execution of the same schedule "
                       "(does a Python task depend on state outside the simulation?)");
    if (cfg_.dpor && k == branch_)  // the runqueues before the first new step
      for (CpuId i = 0; i < ncpu_; ++i) cpu_sig_[i] = cpu_state(sim, i);
  } else {
    if (cfg_.dpor && k > 0) account_step(uint32_t(k - 1), runqueue_writes(sim, nodes_[k - 1].chosen));
    if (cfg_.dpor && k == 0)
      for (CpuId i = 0; i < ncpu_; ++i) cpu_sig_[i] = cpu_state(sim, i);
    Node n;
    n.enabled = enabled;
    next_.resize((k + 1) * ncpu_);
    for (const auto& x : c) next_[k * ncpu_ + x.cpu] = {x.op->obj, x.op->op, x.op->rw, kNoRow};
    // The CPUs whose next operation is the one they had at the parent, which the step
    // taken there does not conflict with: asleep there, they stay asleep (sleep sets);
    // checked for races there, they race with the same steps.
    uint64_t same = 0;
    if (k > 0) {
      const Node& parent = nodes_[k - 1];
      const CpuId last = parent.chosen;
      n.cont = (enabled & bit(last)) ? last : kNoCpu;
      n.preempts = parent.preempts + (parent.cont != kNoCpu && parent.chosen != parent.cont);
      n.branching = parent.branching + many(parent.enabled);
      if (cfg_.dpor) {
        const Dep& s = dep_of(uint32_t(k - 1));
        const uint64_t sw = step_writes_[k - 1];
        for (uint64_t q = parent.enabled & enabled & ~bit(last); q; q &= q - 1) {
          const CpuId cq = lowest(q);
          if (!(sw & bit(cq)) && !conflict(next_of(k - 1, cq), s)) same |= bit(cq);
        }
      }
      // Not with a bound: the equivalent execution explored may need more preemptions
      // than the bound.
      if (cfg_.dpor && cfg_.preemption_bound == ~0u) n.sleep = (parent.sleep | parent.done) & same;
    }
    n.full = n.branching < cfg_.split && many(enabled);
    n.backtrack = (!cfg_.dpor || n.full) ? enabled : 0;
    nodes_.push_back(n);
    if (cfg_.dpor && !source_mode())  // persistent sets check every CPU's operation
      for (uint64_t q = enabled & ~same; q; q &= q - 1) {
        const CpuId cq = lowest(q);
        Dep& d = next_of(k, cq);
        if (touches_obj(d)) d.row = row(d.obj);
        uint32_t conf[kMaxCpus];
        conflicts(cq, d, 0, conf);
        persistent_race(cq, conf);
      }
    Node& m = nodes_[k];
    const uint64_t can = enabled & ~m.sleep & allowed(m);
    if (!can) {
      blocked_ = true;  // every CPU sleeps: all that follows was explored elsewhere
      return Strategy::kStop;
    }
    m.chosen = (m.cont != kNoCpu && (can & bit(m.cont))) ? m.cont : lowest(can);
    m.done = bit(m.chosen);
  }
  if (cfg_.dpor)
    if (Dep& d = dep_of(uint32_t(k)); d.row == kNoRow && touches_obj(d)) d.row = row(d.obj);
  const Node& n = nodes_[k];
  if (n.full) {
    signature_ = hash_mix(signature_, n.chosen);
    // The last split node decides whose subtree this is. Its step still runs in every
    // worker, which stops at the next one: a step that ends the run changes the sleep
    // sets of the other subtrees there (finish).
    other_worker_ = n.branching + 1 == cfg_.split && signature_ % cfg_.workers != cfg_.worker;
  }
  ++depth_;
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i].cpu == n.chosen) return i;
  return 0;  // not reached: enabled matched
}

}  // namespace pagesim
