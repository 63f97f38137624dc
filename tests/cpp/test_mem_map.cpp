// mem_map (and a zsmalloc pool's size classes) copies only the pages written since it was
// last copied from the same, unwritten source, and is otherwise an ordinary array: a dirty
// restore equals a full copy, a written or different source is copied whole, and an
// exploration that reuses one world (reset by copy-assignment from the snapshot) gives the
// same runs and final worlds as one that copies the snapshot afresh for every execution.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drivers/zsmalloc.h"
#include "explore/explorer.h"
#include "kernel_support.h"
#include "mm/lru.h"
#include "mm/mem_map.h"
#include "mm/page_ops.h"

using namespace pagesim;
using namespace pagesim::mm;
using namespace pagesim::testing;
using pagesim::kernel::Kernel;

namespace {

constexpr size_t kN = 1000;  // not a multiple of 64: the last bitmap word is partial

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

MemMap filled(size_t n, uint64_t seed) {
  MemMap m;
  m.assign(n, Page{});
  for (Pfn p = 0; p < n; ++p) {
    m.write(p).index = splitmix(seed);
    m.write(p).refcount = int32_t(p);
  }
  return m;
}

bool same(const MemMap& a, const MemMap& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Page)) == 0;
}

// Writes `n` random pages (some twice, some whole 64-page words).
void scribble(MemMap& m, uint64_t& seed, int n) {
  for (int i = 0; i < n; ++i) {
    const Pfn p = Pfn(splitmix(seed) % m.size());
    m.write(p).flags ^= splitmix(seed);
    m.write(p).content = uint32_t(splitmix(seed));
  }
}

}  // namespace

TEST(MemMap, DirtyRestoreEqualsAFullCopyAfterRandomWrites) {
  const MemMap src = filled(kN, 1);
  MemMap w = src;
  EXPECT_TRUE(same(w, src));
  EXPECT_EQ(w.dirty_count(), 0u);
  uint64_t seed = 7;
  for (int round = 0; round < 200; ++round) {
    const int n = round % 10 == 9 ? 3000 : int(splitmix(seed) % 20);  // sometimes nearly all
    scribble(w, seed, n);
    const size_t dirty = w.dirty_count();
    if (round % 16 == 15)  // a whole word written, copied as one block
      for (Pfn p = 128; p < 192; ++p) w.write(p).order = 9;
    const size_t expect = w.dirty_count();
    EXPECT_GE(expect, dirty);
    w = src;
    EXPECT_TRUE(same(w, src)) << "round " << round;
    EXPECT_EQ(w.copied(), expect) << "round " << round;
    EXPECT_EQ(w.dirty_count(), 0u);
  }
}

TEST(MemMap, AWrittenSourceIsCopiedWhole) {
  MemMap src = filled(kN, 1);
  MemMap w = src;
  w.write(3).index = 42;
  src.write(500).index = 43;  // not dirty in w: only a full copy brings it over
  w = src;
  EXPECT_TRUE(same(w, src));
  EXPECT_EQ(w.copied(), kN);
  EXPECT_EQ(w[500].index, 43u);
  // The source written again after w was restored from it, at a page w never wrote.
  src.write(501).index = 44;
  w = src;
  EXPECT_EQ(w.copied(), kN);
  EXPECT_TRUE(same(w, src));
  // Unwritten since: only w's own writes are copied back.
  w.write(9).index = 1;
  w = src;
  EXPECT_EQ(w.copied(), 1u);
  EXPECT_TRUE(same(w, src));
  // The source assigned from elsewhere is written too.
  MemMap other = filled(kN, 2);
  src = other;
  w = src;
  EXPECT_EQ(w.copied(), kN);
  EXPECT_TRUE(same(w, other));
}

TEST(MemMap, ADifferentOrReallocatedSourceIsCopiedWhole) {
  const MemMap a = filled(kN, 1), b = filled(kN, 2);
  MemMap w = a;
  w = b;  // w's base is a
  EXPECT_EQ(w.copied(), kN);
  EXPECT_TRUE(same(w, b));
  w = a;
  EXPECT_EQ(w.copied(), kN);
  EXPECT_TRUE(same(w, a));
  // A source destroyed and another built in its place (maybe at the same address) is new.
  auto s = std::make_unique<MemMap>(filled(kN, 3));
  w = *s;
  s.reset();
  s = std::make_unique<MemMap>(filled(kN, 4));
  w = *s;
  EXPECT_EQ(w.copied(), kN);
  EXPECT_TRUE(same(w, *s));
  // A copy of w's base is another array: copied whole, and its copies start clean.
  const MemMap s2 = *s;
  w = s2;
  EXPECT_EQ(w.copied(), kN);
  MemMap c = s2;
  EXPECT_EQ(c.dirty_count(), 0u);
  c.write(1).index = 5;
  c = s2;
  EXPECT_EQ(c.copied(), 1u);
  EXPECT_TRUE(same(c, s2));
  // A source of another size.
  const MemMap bigger = filled(kN + 64, 5);
  w = bigger;
  EXPECT_TRUE(same(w, bigger));
  EXPECT_EQ(w.copied(), kN + 64);
}

TEST(MemMap, SelfAssignmentKeepsEverything) {
  const MemMap src = filled(kN, 1);
  MemMap w = src;
  w.write(7).index = 70;
  MemMap& alias = w;
  w = alias;
  EXPECT_EQ(w[7].index, 70u);
  EXPECT_EQ(w.dirty_count(), 1u);
  w = std::move(alias);
  EXPECT_EQ(w[7].index, 70u);
  w = src;  // the write is still undone
  EXPECT_EQ(w.copied(), 1u);
  EXPECT_TRUE(same(w, src));
}

TEST(MemMap, MoveKeepsTheContentsAndTheBaseAndEmptiesTheSource) {
  MemMap src = filled(kN, 1);
  MemMap w = src;
  w.write(11).index = 110;
  MemMap moved = std::move(w);
  EXPECT_TRUE(w.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(moved[11].index, 110u);
  moved = src;  // the moved array still knows its base and its dirty page
  EXPECT_EQ(moved.copied(), 1u);
  EXPECT_TRUE(same(moved, src));
  // A moved-from source is no base any more; a source moved elsewhere is a new array.
  MemMap dst = src;
  MemMap taken = std::move(src);
  src = filled(kN, 9);
  dst = src;
  EXPECT_EQ(dst.copied(), kN);
  EXPECT_TRUE(same(dst, src));
  dst = taken;
  EXPECT_EQ(dst.copied(), kN);
  EXPECT_TRUE(same(dst, filled(kN, 1)));
  // Move-assignment.
  MemMap w2;
  w2 = std::move(dst);
  EXPECT_TRUE(same(w2, taken));
  w2.write(0).index = 1;
  w2 = taken;
  EXPECT_EQ(w2.copied(), 1u);
  EXPECT_TRUE(same(w2, taken));
}

// ---- a real world reused across executions ----

namespace {

// Chulmin Kim's zs_free double isolation (scenarios/zs_free_double_isolation.py): migrate
// contexts A and B aim at T, a sub-page of a zspage whose last object C frees.
struct ZsFree {
  Kernel init;
  uint32_t pool;
  int64_t h;
  Pfn T;
};

ZsFree zs_free_scenario(const std::string& preset) {
  ZsFree s{make_kernel(preset), 0, 0, 0};
  s.pool = uint32_t(call(s.init, "zs_create_pool"));
  s.h = call(s.init, "zs_malloc", {s.pool, 3000});
  s.T = drivers::zs_pages_of(s.init, s.pool, uint64_t(s.h))[1];
  return s;
}

// What one execution gave: its result and a digest of the final world.
struct Seen {
  std::vector<std::string> outcomes;
  uint64_t trace_hash, steps;
  std::vector<CpuId> schedule;
  uint64_t world;
  bool operator==(const Seen&) const = default;
};

uint64_t digest(const Kernel& k) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 0x100000001b3ull;
  };
  mix(k.pages.data(), k.pages.size() * sizeof(Page));
  mix(k.stats.data(), sizeof(k.stats));
  for (const auto& l : k.lists) mix(&l.count, sizeof(l.count));
  for (const auto& pool : k.zsmalloc.pools) {
    mix(&pool.pages_allocated, sizeof(pool.pages_allocated));
    for (const auto& c : pool.classes) {  // the size classes are restored like mem_map
      mix(&c.lock.owner, sizeof(c.lock.owner));
      mix(c.stats.data(), sizeof(c.stats));
      for (size_t fg = 0; fg < drivers::NR_FULLNESS_GROUPS; ++fg)
        for (uint32_t id : c.fullness_list[fg]) mix(&id, sizeof(id));
    }
  }
  return h;
}

// The executor of an exploration: a fresh copy of `s.init` per execution, or one world
// reset by copy-assignment (as KernelMachine::reset_world does) and reused.
Executor executor(const ZsFree& s, bool reuse, std::optional<Kernel>& scratch, std::vector<Seen>& seen) {
  return [&s, reuse, &scratch, &seen](std::unique_ptr<Strategy> st) {
    std::optional<Kernel> fresh;
    Kernel* k;
    if (reuse && scratch) {
      *scratch = s.init;
      k = &*scratch;
    } else {
      k = &(reuse ? scratch : fresh).emplace(s.init);
    }
    SimConfig c = sim_cfg(3);
    c.trace = false;
    Sim sim(c, k, std::move(st));
    with_teardown(sim, *k);
    sim.spawn(0, "migrate_ctx_A", [k, T = s.T] { call(*k, "compact_page", {T}); });
    sim.spawn(1, "migrate_ctx_B", [k, T = s.T] { call(*k, "compact_page", {T}); });
    sim.spawn(2, "zs_free_C", [k, &s] { call(*k, "zs_free", {s.pool, s.h}); });
    RunResult r = sim.run();
    Seen x{{}, r.trace_hash, r.steps, r.schedule, digest(*k)};
    for (const auto& o : r.outcomes) x.outcomes.push_back(o.report());
    seen.push_back(std::move(x));
    return r;
  };
}

std::vector<ExploreConfig> explorations() {
  std::vector<ExploreConfig> v;
  for (ExploreKind kind : {ExploreKind::Random, ExploreKind::Pct, ExploreKind::Dpor, ExploreKind::Dfs}) {
    ExploreConfig c;
    c.kind = kind;
    c.executions = 150;
    c.seed = 5;
    c.preemption_bound = 2;
    v.push_back(c);
  }
  return v;
}

}  // namespace

TEST(MemMapReuse, AReusedWorldGivesTheRunsAndWorldsOfFreshCopies) {
  for (const char* preset : {"v4.8", "movable-v3", "v6.6"}) {
    ZsFree s = zs_free_scenario(preset);
    std::optional<Kernel> scratch;  // reused across every exploration of this preset
    for (int round = 0; round < 2; ++round) {
      if (round == 1) {  // the snapshot changes between explorations: the next reset copies it whole
        call(s.init, "zs_malloc", {s.pool, 100});
        ASSERT_TRUE(scratch);
      }
      for (const ExploreConfig& cfg : explorations()) {
        std::vector<Seen> fresh, reused;
        std::optional<Kernel> unused;
        const ExploreResult a = explore(executor(s, false, unused, fresh), cfg);
        const ExploreResult b = explore(executor(s, true, scratch, reused), cfg);
        ASSERT_EQ(fresh.size(), reused.size()) << preset << " " << explore_kind_name(cfg.kind);
        EXPECT_GT(fresh.size(), 10u);
        for (size_t i = 0; i < fresh.size(); ++i)
          ASSERT_TRUE(fresh[i] == reused[i]) << preset << " " << explore_kind_name(cfg.kind) << " execution " << i;
        EXPECT_EQ(a.executions, b.executions);
        ASSERT_EQ(a.outcomes.size(), b.outcomes.size());
        for (auto ia = a.outcomes.begin(), ib = b.outcomes.begin(); ia != a.outcomes.end(); ++ia, ++ib) {
          EXPECT_EQ(ia->first, ib->first);
          EXPECT_EQ(ia->second.count, ib->second.count);
          EXPECT_EQ(ia->second.schedule, ib->second.schedule);
        }
        // The last reset copied only what an execution wrote. Since 6.2 the deferred free's
        // walk of every class takes the pool's lock, and writes only the freed zspage's class.
        EXPECT_LT(scratch->pages.copied(), s.init.pages.size() / 8) << preset;
        if (std::string(preset) == "v6.6") EXPECT_LE(scratch->zsmalloc.pools[0].classes.copied(), 1u);
      }
    }
  }
}

TEST(MemMapReuse, KernelCopyAssignmentRestoresOnlyWrittenPages) {
  ZsFree s = zs_free_scenario("v4.8");
  Kernel w = s.init;
  const RunResult r = run_task(w, [&] { call(w, "zs_free", {s.pool, s.h}); });
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  const size_t written = w.pages.dirty_count();
  EXPECT_GT(written, 0u);
  EXPECT_NE(digest(w), digest(s.init));
  w = s.init;
  EXPECT_EQ(w.pages.copied(), written);
  EXPECT_EQ(digest(w), digest(s.init));
  EXPECT_EQ(std::memcmp(w.pages.data(), s.init.pages.data(), w.pages.size() * sizeof(Page)), 0);
}

TEST(MemMapReuse, ReadingPagesMarksNoneDirty) {
  ZsFree s = zs_free_scenario("v4.8");
  const uint32_t pid = mm::process_create(s.init, "p");
  call(s.init, "fault_in", {pid, 16});
  Kernel w = s.init;
  // What the scanners of compaction read of every page, and the process's data check.
  const RunResult r = run_task(w, [&] {
    for (Pfn p = 0; p < w.pages.size(); ++p) {
      (void)PageLRU(w, p);
      (void)page_count(w, p);
      (void)__PageMovable(w, p);
      (void)page_mapping(w, p);
      (void)PageAnon(w, p);
    }
    EXPECT_EQ(process_verify(w, pid), 0u);
  });
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(w.pages.dirty_count(), 0u);
  w = s.init;
  EXPECT_EQ(w.pages.copied(), 0u);
}
