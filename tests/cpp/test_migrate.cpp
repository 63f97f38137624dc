// Page migration contract (mm/migrate.c of Linux 4.8, kernel-notes section 1):
// isolate_movable_page, putback_movable_page(s), move_to_new_page, unmap_and_move,
// migrate_pages, the LRU path through compaction, and NR_ISOLATED accounting.
//
// The non-LRU pages belong to a tiny movable driver defined here, which follows the 4.8
// driver contract of the merged commit (seed 000): isolate_page returns true to isolate
// and never touches PG_isolated; migratepage copies the contents, sets up the new page
// with __SetPageMovable, __ClearPageMovable(old) under the page lock (held by the VM),
// get_page(newpage) and put_page(old); putback_page takes the page back. Its behaviour
// is switchable per test (refuse isolation, -EAGAIN, -EBUSY, misuse of PG_isolated).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/intern.h"
#include "engine/sim.h"
#include "explore/dfs.h"
#include "explore/script.h"
#include "kernel/kernel.h"
#include "kernel_support.h"
#include "mm/compaction.h"
#include "mm/lru.h"
#include "mm/migrate.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"

using namespace pagesim;
using namespace pagesim::mm;

using pagesim::testing::outcomes_str;
using pagesim::testing::run_task;
using pagesim::testing::sim_cfg;
using pagesim::testing::with_teardown;

namespace {

// ---- the test driver ----

struct Driver {
  // Behaviour.
  bool refuse_isolate = false;          // isolate_page returns false
  bool sets_isolated = false;           // misbehaves: sets PG_isolated itself (v3 rule)
  int migrate_rc = MIGRATEPAGE_SUCCESS;  // what migratepage returns (0: it migrates)
  int eagain_first = 0;                 // return -EAGAIN for the first N migratepage calls
  std::map<Pfn, int> rc_of;             // per-page override of migrate_rc
  // What the VM did to it.
  int isolate_calls = 0;
  int migrate_calls = 0;
  int putback_calls = 0;
  bool saw_isolated_in_isolate = false;  // PG_isolated was set when isolate_page ran
  bool saw_unlocked = false;             // a callback ran without the page lock
  int64_t nr_isolated_anon_in_migrate = -1;  // at the first migratepage call
  int64_t nr_isolated_file_in_migrate = -1;
  // The driver's pages by slot: a migrated page is replaced by its copy, a released one
  // by kNoPfn. Protected by the driver's own spinlock (TWorld::drv_lock), which
  // migratepage takes too.
  std::vector<Pfn> pages;
  // The migration target allocator of the migrate_pages tests.
  int new_calls = 0;
  int free_calls = 0;
  int new_pages_available = 1 << 30;  // get_new_page fails (-ENOMEM) after this many
};

struct TWorld : kernel::Kernel {
  explicit TWorld(const std::string& preset = "v4.8", uint32_t pages = 2048)
      : kernel::Kernel(config(preset, pages)) {
    mapping = new_mapping("test_movable", &kOps, 0);
    drv_lock = add_lock("test_movable driver lock", LockKind::Spin);
  }
  static kernel::KernelConfig config(const std::string& preset, uint32_t pages) {
    kernel::KernelConfig c;
    c.preset = preset;
    c.zones = {{"Normal", pages, MIGRATE_MOVABLE}};
    return c;
  }
  static const AddressSpaceOps kOps;
  Driver drv;
  uint32_t mapping = 0;
  uint32_t drv_lock = 0;  // in World::locks
};

Driver& drv(Mm& mm) { return static_cast<TWorld&>(mm).drv; }
SpinLock& drv_lock(Mm& mm) {
  auto& w = static_cast<TWorld&>(mm);
  return w.locks[w.drv_lock].spin;
}

bool locked(const Mm& mm, Pfn p) { return (mm.page(p).flags >> PG_locked) & 1; }
bool isolated(const Mm& mm, Pfn p) { return (mm.page(p).flags >> PG_isolated) & 1; }

bool tdrv_isolate_page(Mm& mm, Pfn page, isolate_mode_t) {
  MODEL_FUNC("tdrv_isolate_page");
  Driver& d = drv(mm);
  d.isolate_calls++;
  d.saw_unlocked |= !locked(mm, page);
  d.saw_isolated_in_isolate |= PageIsolated(mm, page);
  if (d.refuse_isolate) return false;
  if (d.sets_isolated) __SetPageIsolated(mm, page);
  return true;
}

int tdrv_migratepage(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page, MigrateMode) {
  MODEL_FUNC("tdrv_migratepage");
  Driver& d = drv(mm);
  d.migrate_calls++;
  d.saw_unlocked |= !locked(mm, page) || !locked(mm, newpage);
  if (d.migrate_calls == 1) {  // what the counters say at the first call
    d.nr_isolated_anon_in_migrate = mm.stat(Stat::NR_ISOLATED_ANON);
    d.nr_isolated_file_in_migrate = mm.stat(Stat::NR_ISOLATED_FILE);
  }
  if (d.eagain_first > 0) {
    d.eagain_first--;
    return -EAGAIN;
  }
  const auto it = d.rc_of.find(page);
  const int rc = it != d.rc_of.end() ? it->second : d.migrate_rc;
  if (rc != MIGRATEPAGE_SUCCESS) return rc;
  // Copy the contents and set up the new page.
  sched(Op::Read, Access::Read, page_obj(page), here());
  sched(Op::Write, Access::Write, page_obj(newpage), here());
  mm.page(newpage).content = mm.page(page).content;
  __SetPageMovable(mm, newpage, mapping);
  get_page(mm, newpage);
  // The old page is no longer movable: under the page lock the VM holds.
  __ClearPageMovable(mm, page);
  spin_lock(drv_lock(mm));
  std::replace(d.pages.begin(), d.pages.end(), page, newpage);
  spin_unlock(drv_lock(mm));
  put_page(mm, page);
  return MIGRATEPAGE_SUCCESS;
}

void tdrv_putback_page(Mm& mm, Pfn page) {
  MODEL_FUNC("tdrv_putback_page");
  Driver& d = drv(mm);
  d.putback_calls++;
  d.saw_unlocked |= !locked(mm, page);
}

const AddressSpaceOps TWorld::kOps = {"test_movable", tdrv_isolate_page, tdrv_migratepage,
                                      tdrv_putback_page};

// A driver page: allocated, made movable under the page lock, with fresh contents.
Pfn tdrv_alloc(TWorld& w) {
  const Pfn p = alloc_pages(w, GFP_KERNEL | __GFP_MOVABLE, 0, Owner::TestDriver);
  EXPECT_NE(p, kNoPfn);
  lock_page(w, p);
  __SetPageMovable(w, p, w.mapping);
  unlock_page(w, p);
  w.page(p).content = w.next_content++;
  w.drv.pages.push_back(p);
  return p;
}

// The driver releases the page of a slot: __ClearPageMovable under the page lock, then
// it drops its reference (the last one frees the page). Migration may move the slot's
// data to another page meanwhile: the driver pins the page it found under its own lock,
// and looks again if the page is no longer the slot's once it holds the page lock
// (migratepage runs under that lock).
void tdrv_release_slot(TWorld& w, size_t slot) {
  MODEL_FUNC("tdrv_release");
  Driver& d = w.drv;
  for (;;) {
    spin_lock(drv_lock(w));
    const Pfn p = d.pages.at(slot);
    get_page(w, p);
    spin_unlock(drv_lock(w));
    lock_page(w, p);
    if (d.pages[slot] != p) {  // migrated meanwhile
      unlock_page(w, p);
      put_page(w, p);
      continue;
    }
    __ClearPageMovable(w, p);
    d.pages[slot] = kNoPfn;
    unlock_page(w, p);
    put_page(w, p);  // our pin
    put_page(w, p);  // the driver's reference
    return;
  }
}

void tdrv_release(TWorld& w, Pfn p) {
  const auto it = std::find(w.drv.pages.begin(), w.drv.pages.end(), p);
  ASSERT_NE(it, w.drv.pages.end()) << "pfn " << p << " is not the driver's";
  tdrv_release_slot(w, size_t(it - w.drv.pages.begin()));
}

// new_page_t / free_page_t of the migrate_pages tests.
Pfn test_new_page(Mm& mm, Pfn, uint64_t) {
  Driver& d = drv(mm);
  if (d.new_calls++ >= d.new_pages_available) return kNoPfn;
  return alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Migration);
}
void test_free_new_page(Mm& mm, Pfn p, uint64_t) {
  drv(mm).free_calls++;
  put_page(mm, p);
}

// What isolate_migratepages does for one non-LRU page: isolate it onto the private list,
// then acct_isolated (4.8 as released counts every isolated page; 6afcf8ef0ca0 only LRU
// pages, in isolate_migratepages_block).
bool isolate_onto(TWorld& w, Pfn p, uint32_t list) {
  if (!isolate_movable_page(w, p, 0)) return false;
  list_add(w, p, list);
  if (!w.cfg.has(Fix::NrIsolatedLruOnly)) w.stat(nr_isolated_stat(w, p))++;
  return true;
}

int migrate(TWorld& w, uint32_t from, MigrateMode mode = MigrateMode::Sync) {
  return migrate_pages(w, from, test_new_page, test_free_new_page, 0, mode,
                       MigrateReason::Compaction);
}

// The operations a run performed on one page, in order.
std::vector<Op> ops_on(const RunResult& r, Pfn p) {
  std::vector<Op> v;
  for (const auto& t : r.trace)
    if (t.kind == TraceKind::Step && t.obj == page_obj(p)) v.push_back(t.op);
  return v;
}

// Index in the trace of the first step on page p inside model function `func` at or
// after `from`, or -1.
long step_index(const RunResult& r, Pfn p, const char* func, Op op, size_t from = 0) {
  const uint32_t f = intern(func);
  for (size_t i = from; i < r.trace.size(); ++i) {
    const auto& t = r.trace[i];
    if (t.kind == TraceKind::Step && t.obj == page_obj(p) && t.func == f && t.op == op)
      return long(i);
  }
  return -1;
}

// Whether pfn is free in the buddy allocator (the head of a free block, or inside one).
bool is_free(const Mm& mm, Pfn pfn) {
  for (unsigned o = 0; o < unsigned(MAX_ORDER); ++o) {
    const Pfn head = pfn & ~((1u << o) - 1);
    const Page& h = mm.page(head);
    if (h.mapcount == PAGE_BUDDY_MAPCOUNT_VALUE && h.private_ == o) return true;
  }
  return false;
}

}  // namespace

// ---- isolate_movable_page ----

// Two migration contexts race to isolate one movable page. The page lock and PG_isolated
// (set under it) make exactly one of them win in every interleaving; the loser drops
// the reference it took, and the driver is asked exactly once.
TEST(MigrateIsolate, TwoContextsExactlyOneWinsInEveryInterleaving) {
  TWorld tmpl("v4.8", 512);
  const Pfn p = tdrv_alloc(tmpl);
  ASSERT_EQ(tmpl.page(p).refcount, 1);
  uint64_t wins[2] = {0, 0};
  const DfsStats st = explore_dfs(
      [&](std::unique_ptr<Strategy> s) {
        TWorld w = tmpl;
        bool got[2] = {false, false};
        SimConfig c = sim_cfg(2);
        c.trace = false;
        Sim sim(c, &w, std::move(s));
        for (CpuId cpu = 0; cpu < 2; ++cpu)
          sim.spawn(cpu, cpu ? "B" : "A",
                    [&w, &got, cpu, p] { got[cpu] = isolate_movable_page(w, p, 0); });
        const RunResult r = sim.run();
        EXPECT_TRUE(r.ok()) << outcomes_str(r);
        EXPECT_NE(got[0], got[1]) << "both or neither isolated the page";
        for (int i = 0; i < 2; ++i) wins[i] += got[i];
        EXPECT_EQ(w.page(p).refcount, 2) << "driver's reference + the winner's isolation reference";
        EXPECT_TRUE(isolated(w, p));
        EXPECT_FALSE(locked(w, p));
        EXPECT_EQ(w.drv.isolate_calls, 1);
        EXPECT_FALSE(w.drv.saw_unlocked);
        return !::testing::Test::HasFailure();
      },
      10'000'000);
  EXPECT_TRUE(st.exhausted);
  EXPECT_GT(st.executions, 1000u);
  EXPECT_EQ(wins[0] + wins[1], st.executions);
  EXPECT_EQ(wins[0], wins[1]) << "the two contexts are symmetric";
  RecordProperty("executions", std::to_string(st.executions));
  std::printf("isolate race: %llu interleavings, A won %llu, B won %llu\n",
              (unsigned long long)st.executions, (unsigned long long)wins[0],
              (unsigned long long)wins[1]);
}

// Step 1: a page with refcount 0 is being freed: refused by get_page_unless_zero alone,
// with no other access to the page.
TEST(MigrateIsolate, PageBeingFreedIsRefusedWithoutTouchingIt) {
  TWorld w;
  const Pfn p = 0;  // inside the free order-10 block at 0: refcount 0
  ASSERT_EQ(w.page(p).refcount, 0);
  const Page before = w.page(p);
  bool got = true;
  const RunResult r = run_task(w, [&] { got = isolate_movable_page(w, p, 0); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_FALSE(got);
  EXPECT_EQ(std::memcmp(&before, &w.page(p), sizeof(Page)), 0);
  EXPECT_EQ(ops_on(r, p), std::vector<Op>{Op::AtomicRmw});
  EXPECT_EQ(w.drv.isolate_calls, 0);
}

// Step 2: __PageMovable is peeked before trylock_page: a page whose mapping is not
// PAGE_MAPPING_MOVABLE (a kernel page, an anon page, a KSM page) is refused without
// touching PG_locked, even when another context holds its lock.
TEST(MigrateIsolate, NotMovablePageIsRefusedBeforeTrylock) {
  struct Case {
    const char* what;
    uint64_t mapping_bits;
  } cases[] = {{"no mapping", 0}, {"anon", PAGE_MAPPING_ANON}, {"ksm", PAGE_MAPPING_KSM}};
  for (const Case& c : cases) {
    TWorld w;
    const Pfn p = alloc_pages(w, GFP_KERNEL, 0, Owner::Kernel);
    ASSERT_NE(p, kNoPfn);
    if (c.mapping_bits) w.page(p).mapping = mapping_value(w.mapping) | c.mapping_bits;
    lock_page(w, p);  // its owner holds the lock
    bool got = true;
    const RunResult r = run_task(w, [&] { got = isolate_movable_page(w, p, 0); });
    w.page(p).mapping = 0;
    ASSERT_TRUE(r.ok()) << c.what << "\n" << outcomes_str(r);
    EXPECT_FALSE(got) << c.what;
    // get_page_unless_zero, the mapping read, put_page: never trylock_page.
    EXPECT_EQ(ops_on(r, p), (std::vector<Op>{Op::AtomicRmw, Op::Read, Op::AtomicRmw})) << c.what;
    EXPECT_TRUE(locked(w, p)) << c.what;
    EXPECT_EQ(w.page(p).refcount, 1) << c.what;
    EXPECT_EQ(w.drv.isolate_calls, 0) << c.what;
    unlock_page(w, p);
    __free_pages(w, p, 0);
  }
}

// Step 3: trylock_page fails on a page locked by someone else: refused, reference
// dropped, the lock left to its holder.
TEST(MigrateIsolate, LockedPageIsRefused) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  lock_page(w, p);
  bool got = true;
  const RunResult r = run_task(w, [&] { got = isolate_movable_page(w, p, 0); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_FALSE(got);
  const auto ops = ops_on(r, p);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), Op::TestAndSet), 1);  // one trylock_page
  EXPECT_EQ(ops.back(), Op::AtomicRmw);                              // put_page
  EXPECT_TRUE(locked(w, p));
  EXPECT_FALSE(isolated(w, p));
  EXPECT_EQ(w.page(p).refcount, 1);
  EXPECT_EQ(w.drv.isolate_calls, 0);
  unlock_page(w, p);
}

// Step 4: under the page lock, an already isolated page is refused (and the driver is
// not asked again).
TEST(MigrateIsolate, AlreadyIsolatedPageIsRefused) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  ASSERT_EQ(w.page(p).refcount, 2);
  bool got = true;
  const RunResult r = run_task(w, [&] {
    got = isolate_movable_page(w, p, 0);
    putback_movable_pages(w, l);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_FALSE(got);
  EXPECT_EQ(w.drv.isolate_calls, 1);
  EXPECT_EQ(w.drv.putback_calls, 1);
  EXPECT_EQ(w.page(p).refcount, 1);
  EXPECT_FALSE(isolated(w, p));
}

// Step 4 too: a page the driver released (PageMovable false, the 0x2 bit kept) is refused
// under the lock.
TEST(MigrateIsolate, ReleasedPageIsRefusedUnderTheLock) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  get_page(w, p);  // someone still holds a reference after the driver lets go
  tdrv_release(w, p);
  ASSERT_EQ(w.page(p).mapping, PAGE_MAPPING_MOVABLE);
  bool got = true;
  const RunResult r = run_task(w, [&] { got = isolate_movable_page(w, p, 0); });
  EXPECT_FALSE(got);
  const auto ops = ops_on(r, p);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), Op::TestAndSet), 1);
  EXPECT_EQ(w.drv.isolate_calls, 0);
  EXPECT_EQ(w.page(p).refcount, 1);
  EXPECT_FALSE(locked(w, p));
  put_page(w, p);
  EXPECT_TRUE(is_free(w, p));
}

// Step 6: the driver refuses: unlock, put, false; PG_isolated untouched.
TEST(MigrateIsolate, DriverRefusalIsRespected) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  w.drv.refuse_isolate = true;
  bool got = true;
  const RunResult r = run_task(w, [&] { got = isolate_movable_page(w, p, 0); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_FALSE(got);
  EXPECT_EQ(w.drv.isolate_calls, 1);
  EXPECT_FALSE(w.drv.saw_unlocked);
  EXPECT_FALSE(isolated(w, p));
  EXPECT_FALSE(locked(w, p));
  EXPECT_EQ(w.page(p).refcount, 1);
}

// Step 7 (v4.8): the VM, not the driver, sets PG_isolated, after isolate_page returned
// true and before unlock_page; the reference taken in step 1 is kept.
TEST(MigrateIsolate, VmSetsPgIsolatedUnderTheLock) {
  TWorld w("v4.8");
  const Pfn p = tdrv_alloc(w);
  bool got = false;
  Sim sim(sim_cfg(1), &w, std::make_unique<RandomStrategy>(1));
  sim.spawn(0, "t", [&] { got = isolate_movable_page(w, p, 0); });
  const RunResult r = sim.run();
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_TRUE(got);
  EXPECT_FALSE(w.drv.saw_isolated_in_isolate);  // not yet set when the driver ran
  EXPECT_TRUE(isolated(w, p));
  EXPECT_FALSE(locked(w, p));
  EXPECT_EQ(w.page(p).refcount, 2);
  // PG_isolated is set (a BitSet in isolate_movable_page) between trylock and unlock.
  const long lock = step_index(r, p, "trylock_page", Op::TestAndSet);
  const long set = step_index(r, p, "isolate_movable_page", Op::BitSet);
  const long unlock = step_index(r, p, "unlock_page", Op::BitClear);
  ASSERT_GE(lock, 0);
  EXPECT_LT(lock, set);
  EXPECT_LT(set, unlock);
}

// Step 7: a driver that sets PG_isolated itself (the v3 rule) is warned about in v4.8;
// the isolation still succeeds. In the v3 preset the driver owns the flag and the VM
// does not set it.
TEST(MigrateIsolate, WarnsWhenTheDriverSetsPgIsolated) {
  {
    TWorld w("v4.8");
    const Pfn p = tdrv_alloc(w);
    w.drv.sets_isolated = true;
    bool got = false;
    Sim sim(sim_cfg(1), &w, std::make_unique<RandomStrategy>(1));
    sim.spawn(0, "t", [&] { got = isolate_movable_page(w, p, 0); });
    const RunResult r = sim.run();
    ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
    EXPECT_EQ(r.outcomes[0].key(), "warn:isolate_movable_page");
    EXPECT_EQ(r.outcomes[0].message, "WARN_ON_ONCE(PageIsolated(page))");
    EXPECT_EQ(r.outcomes[0].details, std::vector<std::string>{"driver set PG_isolated"});
    EXPECT_TRUE(got);
    EXPECT_TRUE(isolated(w, p));
  }
  // v3 02/16: the VM warns when the driver did not set it (WARN_ON_ONCE(!PageIsolated)).
  for (bool driver_sets : {false, true}) {
    TWorld w("movable-v3");
    const Pfn p = tdrv_alloc(w);
    w.drv.sets_isolated = driver_sets;
    bool got = false;
    Sim sim(sim_cfg(1), &w, std::make_unique<RandomStrategy>(1));
    sim.spawn(0, "t", [&] { got = isolate_movable_page(w, p, 0); });
    const RunResult r = sim.run();
    if (driver_sets) {
      EXPECT_TRUE(r.ok()) << outcomes_str(r);
    } else {
      ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
      EXPECT_EQ(r.outcomes[0].key(), "warn:isolate_movable_page");
      EXPECT_EQ(r.outcomes[0].message, "WARN_ON_ONCE(!PageIsolated(page))");
      EXPECT_EQ(r.outcomes[0].details,
                std::vector<std::string>{"driver did not set PG_isolated"});
    }
    EXPECT_TRUE(got);
    EXPECT_EQ(isolated(w, p), driver_sets);
  }
}

// ---- putback ----

// putback_movable_pages: off the list, the driver's putback_page under the page lock,
// PG_isolated cleared, the isolation reference dropped.
TEST(MigratePutback, PutbackCallsTheDriverAndClearsIsolated) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  const uint32_t content = w.page(p).content;
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  EXPECT_EQ(w.stat(Stat::NR_ISOLATED_FILE), 1);  // acct_isolated of 4.8
  const RunResult r = run_task(w, [&] { putback_movable_pages(w, l); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(w.drv.putback_calls, 1);
  EXPECT_FALSE(w.drv.saw_unlocked);
  EXPECT_FALSE(isolated(w, p));
  EXPECT_FALSE(locked(w, p));
  EXPECT_EQ(w.page(p).refcount, 1);
  EXPECT_TRUE(list_empty(w, l));
  EXPECT_EQ(w.page(p).list, kPoisonList);  // list_del poisons page->lru
  EXPECT_EQ(w.page(p).mapping, mapping_value(w.mapping) | PAGE_MAPPING_MOVABLE);
  EXPECT_EQ(w.page(p).content, content);
  EXPECT_EQ(w.stat(Stat::NR_ISOLATED_FILE), 0);
  EXPECT_EQ(w.stat(Stat::NR_ISOLATED_ANON), 0);
}

// putback_movable_page itself: called with the page locked, movable and isolated.
TEST(MigratePutback, PutbackMovablePageCallsTheDriver) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  bool got = false;
  const RunResult r = run_task(w, [&] {
    got = isolate_movable_page(w, p, 0);
    lock_page(w, p);
    putback_movable_page(w, p);
    EXPECT_TRUE(locked(w, p));  // the caller unlocks
    unlock_page(w, p);
    put_page(w, p);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_TRUE(got);
  EXPECT_EQ(w.drv.putback_calls, 1);
  EXPECT_FALSE(isolated(w, p));
  EXPECT_EQ(w.page(p).refcount, 1);
}

// The driver released the page while it was isolated: putback only clears PG_isolated
// (the driver is not called), and the isolation reference was the last: the page is
// freed, once, with no bad_page.
TEST(MigratePutback, PutbackOfAReleasedPageOnlyClearsIsolatedAndFreesIt) {
  TWorld w;
  const int64_t free0 = w.stat(Stat::NR_FREE_PAGES);
  const Pfn p = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  tdrv_release(w, p);
  ASSERT_EQ(w.page(p).refcount, 1);
  const RunResult r = run_task(w, [&] { putback_movable_pages(w, l); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(w.drv.putback_calls, 0);
  EXPECT_TRUE(is_free(w, p));
  EXPECT_EQ(w.page(p).refcount, 0);
  EXPECT_EQ(w.page(p).mapping, 0u);
  EXPECT_EQ(w.stat(Stat::NR_FREE_PAGES), free0);
  // The flag was cleared under the page lock, before the page was freed.
  const long lock = step_index(r, p, "lock_page", Op::TestAndSet);
  const long clear = step_index(r, p, "putback_movable_pages", Op::BitClear);
  const long unlock = step_index(r, p, "unlock_page", Op::BitClear);
  ASSERT_GE(lock, 0);
  EXPECT_LT(lock, clear);
  EXPECT_LT(clear, unlock);
}

// move_to_new_page on a released page: MIGRATEPAGE_SUCCESS without calling the driver,
// PG_isolated cleared.
TEST(MigratePutback, MoveToNewPageOfAReleasedPageSkipsTheDriver) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  ASSERT_TRUE(isolate_movable_page(w, p, 0));
  tdrv_release(w, p);
  const Pfn n = alloc_pages(w, GFP_HIGHUSER_MOVABLE, 0, Owner::Migration);
  lock_page(w, p);
  lock_page(w, n);
  EXPECT_EQ(move_to_new_page(w, n, p, MigrateMode::Sync), MIGRATEPAGE_SUCCESS);
  EXPECT_EQ(w.drv.migrate_calls, 0);
  EXPECT_FALSE(isolated(w, p));
  EXPECT_EQ(w.page(n).mapping, 0u);  // the new page was not touched
  unlock_page(w, n);
  unlock_page(w, p);
  put_page(w, p);
  put_page(w, n);
  EXPECT_TRUE(is_free(w, p));
  EXPECT_TRUE(is_free(w, n));
}

// unmap_and_move finds page_count == 1 (only the isolation reference: the driver released
// the page): PG_isolated is cleared under the page lock, the target goes back, the page
// is freed and counted as migrated.
TEST(MigratePutback, UnmapAndMoveOfAReleasedPageFreesIt) {
  TWorld w;
  const int64_t free0 = w.stat(Stat::NR_FREE_PAGES);
  const Pfn p = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  tdrv_release(w, p);
  int rc = -1;
  const RunResult r = run_task(w, [&] { rc = migrate(w, l); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(w.drv.migrate_calls, 0);
  EXPECT_EQ(w.drv.putback_calls, 0);
  EXPECT_EQ(w.drv.new_calls, 1);
  EXPECT_EQ(w.drv.free_calls, 1);
  EXPECT_TRUE(list_empty(w, l));
  EXPECT_TRUE(is_free(w, p));
  EXPECT_EQ(w.stat(Stat::NR_FREE_PAGES), free0);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_SUCCESS), 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_FAIL), 0);
  const long lock = step_index(r, p, "lock_page", Op::TestAndSet);
  const long clear = step_index(r, p, "unmap_and_move", Op::BitClear,
                                size_t(std::max(lock, 0L)));
  const long unlock = step_index(r, p, "unlock_page", Op::BitClear);
  ASSERT_GE(lock, 0);
  EXPECT_LT(lock, clear);
  EXPECT_LT(clear, unlock);
}

// The driver releases the page while migration is between unmap_and_move's page_count
// check and __unmap_and_move (scripted): move_to_new_page sees !PageMovable and returns
// success without calling the driver; the old page and the unused target are both freed,
// once, with no bad_page and nothing left on any list.
TEST(MigratePutback, ReleaseRacingWithMigrationFreesBothPages) {
  TWorld w;
  const int64_t free0 = w.stat(Stat::NR_FREE_PAGES);
  const Pfn p = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  int rc = -1;
  std::vector<ScriptStep> script = {
      {0, ScriptStep::Until::Before, intern("__unmap_and_move"), kNoObj, 0},
      {1, ScriptStep::Until::Done, 0, kNoObj, 0},
      {0, ScriptStep::Until::Done, 0, kNoObj, 0},
  };
  Sim sim(sim_cfg(2), &w,
          std::make_unique<ScriptStrategy>(script, std::make_unique<RandomStrategy>(1)));
  with_teardown(sim, w);
  sim.spawn(0, "compact", [&] { rc = migrate(w, l); });
  sim.spawn(1, "driver", [&] { tdrv_release_slot(w, 0); });
  const RunResult r = sim.run();
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(w.drv.migrate_calls, 0);
  EXPECT_EQ(w.drv.putback_calls, 0);
  EXPECT_EQ(w.drv.new_calls, 1);
  EXPECT_TRUE(is_free(w, p));
  EXPECT_EQ(w.stat(Stat::NR_FREE_PAGES), free0) << "the old page and the target are free";
  for (uint32_t lru : w.zones[0].lru) EXPECT_TRUE(list_empty(w, lru));
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_SUCCESS), 1);
  // move_to_new_page took the released path (its __ClearPageIsolated).
  EXPECT_GE(step_index(r, p, "move_to_new_page", Op::BitClear), 0);
}

// The same race in every interleaving within two preemptions: whatever the order of
// the driver's release and the migration steps, a released page is never handed to the
// driver (migratepage or putback), and both pages end up free, once, with no bad_page.
TEST(MigratePutback, ReleaseRacingWithMigrationInEveryInterleaving) {
  TWorld tmpl;
  const int64_t free0 = tmpl.stat(Stat::NR_FREE_PAGES);
  const Pfn p = tdrv_alloc(tmpl);
  const uint32_t l = new_list(tmpl, "test:migratepages");
  ASSERT_TRUE(isolate_onto(tmpl, p, l));
  uint64_t bad = 0, released_first = 0;
  std::string first;
  const DfsStats st = explore_dfs(
      [&](std::unique_ptr<Strategy> s) {
        TWorld w = tmpl;
        int rc = -1;
        SimConfig c = sim_cfg(2);
        c.trace = false;
        Sim sim(c, &w, std::move(s));
        with_teardown(sim, w);
        sim.spawn(0, "compact", [&] { rc = migrate(w, l); });
        sim.spawn(1, "driver", [&] { tdrv_release_slot(w, 0); });
        const RunResult r = sim.run();
        // Migrated before the release (the driver then releases the copy), or released
        // first: either way nothing is put back and both pages end up free.
        const bool good = r.ok() && rc == 0 && w.drv.migrate_calls <= 1 &&
                          w.drv.putback_calls == 0 && is_free(w, p) &&
                          w.stat(Stat::NR_FREE_PAGES) == free0;
        if (w.drv.migrate_calls == 0) ++released_first;
        if (!good && !bad++)
          first = "rc " + std::to_string(rc) + ", free " +
                  std::to_string(w.stat(Stat::NR_FREE_PAGES)) + "/" + std::to_string(free0) +
                  "\n" + outcomes_str(r);
        return true;
      },
      1'000'000, /*preemption_bound=*/2);
  EXPECT_TRUE(st.exhausted);
  EXPECT_GT(st.executions, 10u);
  EXPECT_GT(released_first, 0u);
  EXPECT_LT(released_first, st.executions);
  EXPECT_EQ(bad, 0u) << bad << " of " << st.executions << " interleavings, the first:\n" << first;
  std::printf("release vs migration: %llu interleavings (2 preemptions), %llu released first\n",
              (unsigned long long)st.executions, (unsigned long long)released_first);
}

// ---- migrate_pages ----

// -EAGAIN is a temporary failure: retried for 10 passes in all, then counted as not
// migrated; the page stays on the list, isolated, for the caller to put back.
TEST(MigratePages, EagainIsRetriedForTenPasses) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  w.drv.migrate_rc = -EAGAIN;
  int rc = -1;
  bool still_isolated = false;
  const RunResult r = run_task(w, [&] {
    rc = migrate(w, l);
    still_isolated = w.lists[l].count == 1 && isolated(w, p) && w.page(p).refcount == 2;
    putback_movable_pages(w, l);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, 1);
  EXPECT_TRUE(still_isolated);
  EXPECT_EQ(w.drv.migrate_calls, 10);
  EXPECT_EQ(w.drv.new_calls, 10);
  EXPECT_EQ(w.drv.free_calls, 10);
  EXPECT_EQ(w.drv.putback_calls, 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_SUCCESS), 0);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_FAIL), 1);
  EXPECT_EQ(w.page(p).refcount, 1);
}

// A few -EAGAIN, then success: the page is migrated, its contents go with it, the driver
// now owns the copy, the old page is freed.
TEST(MigratePages, EagainThenSuccessMigratesThePage) {
  TWorld w;
  const int64_t free0 = w.stat(Stat::NR_FREE_PAGES);
  const Pfn p = tdrv_alloc(w);
  const uint32_t content = w.page(p).content;
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  w.drv.eagain_first = 4;
  int rc = -1;
  const RunResult r = run_task(w, [&] { rc = migrate(w, l); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(w.drv.migrate_calls, 5);
  EXPECT_EQ(w.drv.new_calls, 5);
  EXPECT_EQ(w.drv.free_calls, 4);
  EXPECT_FALSE(w.drv.saw_unlocked);
  ASSERT_EQ(w.drv.pages.size(), 1u);
  const Pfn n = w.drv.pages[0];
  EXPECT_NE(n, p);
  EXPECT_EQ(w.page(n).content, content);
  EXPECT_EQ(w.page(n).refcount, 1);
  EXPECT_EQ(w.page(n).owner, Owner::TestDriver);
  EXPECT_EQ(w.page(n).mapping, mapping_value(w.mapping) | PAGE_MAPPING_MOVABLE);
  EXPECT_FALSE(isolated(w, n));
  EXPECT_FALSE(locked(w, n));
  EXPECT_TRUE(is_free(w, p));
  EXPECT_EQ(w.stat(Stat::NR_FREE_PAGES), free0 - 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_SUCCESS), 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_FAIL), 0);
}

// Any other error gives up at once: the page is put back to the driver in the same pass.
TEST(MigratePages, OtherErrorsPutThePageBackAtOnce) {
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, p, l));
  w.drv.migrate_rc = -EBUSY;
  int rc = -1;
  const RunResult r = run_task(w, [&] { rc = migrate(w, l); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(w.drv.migrate_calls, 1);
  EXPECT_EQ(w.drv.putback_calls, 1);
  EXPECT_EQ(w.drv.new_calls, 1);
  EXPECT_EQ(w.drv.free_calls, 1);
  EXPECT_TRUE(list_empty(w, l));
  EXPECT_FALSE(isolated(w, p));
  EXPECT_EQ(w.page(p).refcount, 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_FAIL), 1);
  EXPECT_EQ(w.stat(Stat::NR_ISOLATED_FILE), 0);
}

// The return value counts the pages not migrated: one migrated, one -EBUSY (put back at
// once), one -EAGAIN every time (left on the list).
TEST(MigratePages, ReturnValueCountsPagesNotMigrated) {
  TWorld w;
  const Pfn a = tdrv_alloc(w), b = tdrv_alloc(w), c = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  for (Pfn p : {a, b, c}) ASSERT_TRUE(isolate_onto(w, p, l));
  w.drv.rc_of[b] = -EBUSY;
  w.drv.rc_of[c] = -EAGAIN;
  int rc = -1;
  uint32_t left = 0;
  const RunResult r = run_task(w, [&] {
    rc = migrate(w, l);
    left = w.lists[l].count;
    putback_movable_pages(w, l);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(left, 1u);
  EXPECT_EQ(w.drv.migrate_calls, 1 + 1 + 10);
  EXPECT_EQ(w.drv.putback_calls, 2);  // b in migrate_pages, c by the caller
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_SUCCESS), 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_FAIL), 2);
  EXPECT_TRUE(is_free(w, a));
  EXPECT_EQ(w.page(b).refcount, 1);
  EXPECT_EQ(w.page(c).refcount, 1);
}

// -ENOMEM (no target page) aborts the whole call: migrate_pages returns -ENOMEM, the
// remaining pages stay on the list untouched, isolated.
TEST(MigratePages, EnomemAbortsTheCall) {
  TWorld w;
  const Pfn a = tdrv_alloc(w), b = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, a, l));
  ASSERT_TRUE(isolate_onto(w, b, l));
  w.drv.new_pages_available = 0;
  int rc = 0;
  uint32_t left = 0;
  const RunResult r = run_task(w, [&] {
    rc = migrate(w, l);
    left = w.lists[l].count;
    putback_movable_pages(w, l);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, -ENOMEM);
  EXPECT_EQ(left, 2u);
  EXPECT_EQ(w.drv.new_calls, 1);
  EXPECT_EQ(w.drv.migrate_calls, 0);
  EXPECT_EQ(w.drv.putback_calls, 2);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_SUCCESS), 0);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_FAIL), 1);
}

TEST(MigratePages, EnomemAfterASuccessStillReturnsEnomem) {
  TWorld w;
  const Pfn a = tdrv_alloc(w), b = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  ASSERT_TRUE(isolate_onto(w, a, l));
  ASSERT_TRUE(isolate_onto(w, b, l));
  w.drv.new_pages_available = 1;
  int rc = 0;
  uint32_t left = 0;
  const RunResult r = run_task(w, [&] {
    rc = migrate(w, l);
    left = w.lists[l].count;
    putback_movable_pages(w, l);
  });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(rc, -ENOMEM);
  EXPECT_EQ(left, 1u);
  EXPECT_EQ(w.drv.migrate_calls, 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_SUCCESS), 1);
  EXPECT_EQ(w.stat(Stat::PGMIGRATE_FAIL), 1);
}

namespace {

struct LockedRun {
  int rc = -99;
  int new_calls_when_waiting = -1;  // targets allocated when the migrator slept on the lock
  std::string waited_on;
  bool ever_waited = false;
  RunResult r;
};

// Another task holds the page lock while migrate_pages runs; it lets go once the migrator
// sleeps on it, or once the migrator is done.
LockedRun migrate_locked_page(MigrateMode mode) {
  LockedRun out;
  TWorld w;
  const Pfn p = tdrv_alloc(w);
  const uint32_t l = new_list(w, "test:migratepages");
  EXPECT_TRUE(isolate_onto(w, p, l));
  std::vector<ScriptStep> script = {{1, ScriptStep::Until::After, intern("lock_page"), kNoObj, 0}};
  Sim sim(sim_cfg(2), &w,
          std::make_unique<ScriptStrategy>(script, std::make_unique<RandomStrategy>(7)));
  with_teardown(sim, w);
  const TaskId mig = sim.spawn(0, "compact", [&] {
    out.rc = migrate(w, l, mode);
    putback_movable_pages(w, l);
  });
  sim.spawn(1, "holder", [&] {
    lock_page(w, p);
    Sim& s = *Sim::current();
    // Until migrate_pages returns (the caller's putback waits for the lock as well).
    while (out.rc == -99) {
      const Task& t = s.task(mig);
      if (t.state == TaskState::Sleeping) {
        out.ever_waited = true;
        out.new_calls_when_waiting = w.drv.new_calls;
        out.waited_on = t.wait.what;
        break;
      }
      if (t.state == TaskState::Dead) break;
      delay(10);
    }
    unlock_page(w, p);
  });
  out.r = sim.run();
  return out;
}

}  // namespace

// force (a sleeping lock_page) starts at pass 3 in sync modes: passes 0..2 fail their
// trylock_page with -EAGAIN, the fourth attempt waits for the lock holder.
TEST(MigratePages, LockedPageIsWaitedForFromPassThreeInSyncModes) {
  for (MigrateMode mode : {MigrateMode::Sync, MigrateMode::SyncLight}) {
    const LockedRun lr = migrate_locked_page(mode);
    EXPECT_TRUE(lr.r.ok()) << outcomes_str(lr.r);
    EXPECT_TRUE(lr.ever_waited);
    EXPECT_EQ(lr.new_calls_when_waiting, 4) << "three -EAGAIN passes, then the forced one";
    EXPECT_EQ(lr.waited_on, "page lock");
    EXPECT_EQ(lr.rc, 0) << "migrated once the lock was released";
  }
}

// Async migration never sleeps on a page lock: all 10 passes fail their trylock_page.
TEST(MigratePages, AsyncModeNeverWaitsForALockedPage) {
  const LockedRun lr = migrate_locked_page(MigrateMode::Async);
  EXPECT_TRUE(lr.r.ok()) << outcomes_str(lr.r);
  EXPECT_FALSE(lr.ever_waited);
  EXPECT_EQ(lr.rc, 1);
}

// ---- LRU pages ----

namespace {

// A process whose pages fill [1024, 2048) and [0, 512) (the allocator serves the higher
// order-10 block first, in ascending pfn order), with every other page of the last
// pageblock [1536, 2048) unmapped: order-0 holes in a partially used MOVABLE pageblock,
// where the free scanner finds migration targets.
uint32_t lru_layout(TWorld& w) {
  const uint32_t pid = process_create(w, "proc");
  EXPECT_EQ(process_fault_in(w, pid, 1536), 1536u);
  const Process& pr = w.processes[pid];
  for (uint32_t v = 0; v < 1024; ++v) EXPECT_EQ(pr.pte[v], 1024 + v);
  for (uint32_t v = 1024; v < 1536; ++v) EXPECT_EQ(pr.pte[v], v - 1024);
  for (uint32_t v = 513; v < 1024; v += 2) process_unmap(w, pid, v);
  return pid;
}

}  // namespace

// Compaction migrates a process's anonymous pages: the contents are preserved, the page
// table points to the new pages (mapped, on the LRU, one reference), the old pages are
// freed (the free scanner never takes targets below the migrate scanner).
TEST(MigrateLru, CompactionMigratesAnonPagesAndKeepsTheirContents) {
  TWorld w;
  const uint32_t pid = lru_layout(w);
  const std::vector<Pfn> before = w.processes[pid].pte;
  const int64_t free0 = w.stat(Stat::NR_FREE_PAGES);
  const RunResult r = run_task(w, [&] { compact_memory(w, MigrateMode::Sync); });
  ASSERT_TRUE(r.ok()) << outcomes_str(r);
  const Process& pr = w.processes[pid];
  EXPECT_EQ(process_verify(w, pid), 0u);
  int64_t moved = 0, bad_new = 0, old_not_free = 0;
  for (uint32_t v = 0; v < pr.pte.size(); ++v) {
    if (pr.pte[v] == before[v]) continue;
    ++moved;
    ASSERT_NE(pr.pte[v], kNoPfn) << "vpage " << v;
    const Pfn n = pr.pte[v];
    const Page& np = w.page(n);
    const bool good = np.content == pr.content[v] && np.refcount == 1 && np.mapcount == 0 &&
                      np.index == v &&
                      np.mapping == (mapping_value(pr.anon_vma) | PAGE_MAPPING_ANON) &&
                      np.owner == Owner::Process && ((np.flags >> PG_lru) & 1) &&
                      !((np.flags >> PG_locked) & 1) &&
                      np.list == w.zones[0].lru[LRU_INACTIVE_ANON];
    if (!good && !bad_new++) ADD_FAILURE() << "vpage " << v << ": " << dump_page(w, n);
    old_not_free += !is_free(w, before[v]);
  }
  EXPECT_GE(moved, 256);  // at least the first pageblock's pages, into the holes
  EXPECT_EQ(moved, w.stat(Stat::PGMIGRATE_SUCCESS));
  EXPECT_EQ(bad_new, 0);
  EXPECT_EQ(old_not_free, 0);
  EXPECT_EQ(w.stat(Stat::NR_FREE_PAGES), free0);
  EXPECT_EQ(w.stat(Stat::NR_ISOLATED_ANON), 0);
  EXPECT_TRUE(w.invariant_outcomes().empty());
}

// ---- NR_ISOLATED accounting ----

// A non-LRU page (pfn 1) and an LRU page (pfn 0) isolated by the compaction scanner
// (compact_range: isolate_migratepages_block, then acct_isolated). 4.8 as released
// counts the whole isolated list, the non-LRU page too (NR_ISOLATED_FILE: it is not
// swap-backed); 6afcf8ef0ca0 (4.10, in v4.14) counts LRU pages only. Both balance to zero, on the
// migrated path and on the put-back paths.
TEST(MigrateNrIsolated, NonLruPageIsCountedOnlyWithoutTheFix) {
  for (const char* preset : {"v4.8", "v4.14"}) {
    for (int drv_rc : {MIGRATEPAGE_SUCCESS, -EBUSY, -EAGAIN}) {
      SCOPED_TRACE(std::string(preset) + " migratepage returns " + std::to_string(drv_rc));
      TWorld w(preset);
      const uint32_t pid = lru_layout(w);
      process_unmap(w, pid, 1025);  // frees pfn 1: the driver's page goes there
      const Pfn d = tdrv_alloc(w);
      ASSERT_EQ(d, 1u);
      w.drv.migrate_rc = drv_rc;
      int rc = -1;
      const RunResult r = run_task(w, [&] { rc = compact_range(w, 0, 2, MigrateMode::Sync); });
      ASSERT_TRUE(r.ok()) << outcomes_str(r);
      EXPECT_EQ(rc, drv_rc == MIGRATEPAGE_SUCCESS ? 0 : 1);
      // The driver's page is migrated first (isolated last: list_add at the head), while
      // the LRU page is still isolated.
      EXPECT_GE(w.drv.migrate_calls, 1);
      EXPECT_EQ(w.drv.nr_isolated_anon_in_migrate, 1);
      EXPECT_EQ(w.drv.nr_isolated_file_in_migrate, std::string(preset) == "v4.8" ? 1 : 0);
      EXPECT_EQ(w.stat(Stat::NR_ISOLATED_ANON), 0);
      EXPECT_EQ(w.stat(Stat::NR_ISOLATED_FILE), 0);
      EXPECT_EQ(process_verify(w, pid), 0u);
    }
  }
}

// 4.8 __unmap_and_move: a page under writeback is skipped by every mode but a forced
// MIGRATE_SYNC pass, which waits for the writeback to end (wait_on_page_writeback)
// before it migrates the page. The model has no block I/O: the test sets PG_writeback
// and ends it by hand, as end_page_writeback would.
TEST(MigrateWriteback, ForcedSyncMigrationWaitsForTheWritebackToEnd) {
  for (const bool ends : {true, false}) {
    TWorld k;
    const uint32_t pid = process_create(k, "p");
    ASSERT_EQ(process_fault_in(k, pid, 1), 1u);
    const Pfn p = k.processes[pid].pte[0];
    k.page(p).flags |= 1ull << PG_writeback;
    SimConfig c = sim_cfg(2);
    c.window = 0;  // strict DES: the writeback ends 1 ms in, long after the migration waits
    Sim sim(c, &k, std::make_unique<TimedStrategy>(1));
    if (ends) with_teardown(sim, k);
    sim.spawn(0, "migrate", [&] { compact_range(k, p, p + 1, MigrateMode::Sync); });
    if (ends)
      sim.spawn(1, "io", [&] {
        delay(1'000'000);
        sched(Op::BitClear, Access::Write, page_obj(p), here());  // end_page_writeback
        k.page(p).flags &= ~(1ull << PG_writeback);
        Sim::current()->wake(page_obj(p));
      });
    const RunResult r = sim.run();
    if (!ends) {  // nobody ends the writeback: the migration sleeps on it for good
      ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
      EXPECT_EQ(r.outcomes[0].kind, OutcomeKind::Deadlock);
      EXPECT_NE(r.outcomes[0].details[0].find("sleeps on page writeback"), std::string::npos)
          << outcomes_str(r);
      continue;
    }
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    EXPECT_NE(k.processes[pid].pte[0], p);  // migrated once the writeback ended
    EXPECT_EQ(process_verify(k, pid), 0u);
    // It waited, and moved the page only after the writeback ended.
    const uint32_t wait = intern("wait_on_page_writeback"), move = intern("move_to_new_page");
    long waited = -1, ended = -1, moved = -1;
    for (size_t i = 0; i < r.trace.size(); ++i) {
      const auto& t = r.trace[i];
      if (t.kind == TraceKind::Enter && t.func == wait && waited < 0) waited = long(i);
      if (t.kind == TraceKind::Step && t.op == Op::BitClear && t.obj == page_obj(p) &&
          t.task == 1 && ended < 0)
        ended = long(i);
      if (t.kind == TraceKind::Enter && t.func == move && moved < 0) moved = long(i);
    }
    EXPECT_GE(waited, 0);
    EXPECT_LT(waited, ended);
    EXPECT_LT(ended, moved);
  }
}

// c6c919eb90e0 ("mm: use put_page() to free page instead of putback_lru_page()", 4.8):
// before it (v4.7), a migrated page went back through putback_lru_page like a page that
// failed, and putback_lru_page put it on the LRU before it dropped the isolation
// reference, the last one: the page was freed off the LRU, visible to other scanners in
// between. With it (v4.8) a migrated page never comes back to the LRU. Either way the
// data moves and the old page ends free.
TEST(MigrateLru, WithoutC6c919eb90e0AMigratedPageIsFreedOffTheLru) {
  for (const char* preset : {"v4.7", "v4.8"}) {
    SCOPED_TRACE(preset);
    TWorld k(preset);
    const uint32_t pid = process_create(k, "p");
    ASSERT_EQ(process_fault_in(k, pid, 1), 1u);
    const Pfn p = k.processes[pid].pte[0];
    const RunResult r = run_task(k, [&] { compact_range(k, p, p + 1, MigrateMode::Sync); });
    ASSERT_TRUE(r.ok()) << outcomes_str(r);
    const Pfn n = k.processes[pid].pte[0];
    EXPECT_NE(n, p);
    EXPECT_EQ(process_verify(k, pid), 0u);
    EXPECT_TRUE(is_free(k, p));
    EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 1);
    EXPECT_EQ(k.stat(Stat::NR_ISOLATED_ANON), 0);
    // The old page's PG_lru is set (lru_cache_add) and cleared (the free) only in v4.7.
    const uint32_t add = intern("lru_cache_add");
    int lru_adds_of_old = 0;
    for (const auto& t : r.trace)
      lru_adds_of_old += t.kind == TraceKind::Step && t.func == add && t.obj == page_obj(p);
    if (std::string(preset) == "v4.7")
      EXPECT_GT(lru_adds_of_old, 0);
    else
      EXPECT_EQ(lru_adds_of_old, 0);
    EXPECT_TRUE(k.invariant_outcomes().empty());
  }
}

// The private-list operations of 6.3's batch migration keep the kernel's order:
// list_splice_init puts a list at the head, list_splice_tail_init at the tail, and
// list_cut_before moves the head of a list up to an entry.
TEST(Lists, SpliceAndCutKeepTheOrder) {
  Mm mm;
  init_memory(mm, {{"Normal", 1024}});
  const uint32_t a = new_list(mm, "a"), b = new_list(mm, "b"), c = new_list(mm, "c");
  const auto pfns = [&](uint32_t l) {
    std::vector<Pfn> v;
    for (Pfn p = mm.lists[l].first; p != kNoPfn; p = mm.page(p).lru_next) v.push_back(p);
    EXPECT_EQ(v.size(), mm.lists[l].count);
    EXPECT_EQ(v.empty() ? kNoPfn : v.back(), mm.lists[l].last);
    return v;
  };
  for (Pfn p : {Pfn(1), Pfn(2), Pfn(3)}) list_add_tail(mm, p, a);
  for (Pfn p : {Pfn(7), Pfn(8)}) list_add_tail(mm, p, b);
  list_splice_init(mm, b, a);  // 7 8 1 2 3
  EXPECT_EQ(pfns(a), (std::vector<Pfn>{7, 8, 1, 2, 3}));
  EXPECT_TRUE(pfns(b).empty());
  list_cut_before(mm, c, a, 2);  // c: 7 8 1, a: 2 3
  EXPECT_EQ(pfns(c), (std::vector<Pfn>{7, 8, 1}));
  EXPECT_EQ(pfns(a), (std::vector<Pfn>{2, 3}));
  EXPECT_EQ(mm.page(2).lru_prev, kNoPfn);
  list_splice_tail_init(mm, c, a);  // 2 3 7 8 1
  EXPECT_EQ(pfns(a), (std::vector<Pfn>{2, 3, 7, 8, 1}));
  EXPECT_EQ(mm.page(1).list, a);
  list_splice_init(mm, c, a);  // splicing an empty list changes nothing
  EXPECT_EQ(pfns(a), (std::vector<Pfn>{2, 3, 7, 8, 1}));
}
