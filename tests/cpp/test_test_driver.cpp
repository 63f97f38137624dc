// The movable test driver (the "dummy driver as a misc device" of seed 003): the 4.8
// driver contract from the driver's side, the VM's released-page path, what the VM reports
// for a buggy driver, and the 4.8 behaviour for a PTE-mapped non-LRU page.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "drivers/test_driver.h"
#include "engine/intern.h"
#include "explore/dfs.h"
#include "explore/script.h"
#include "kernel/entry.h"
#include "kernel/kernel.h"
#include "kernel_support.h"
#include "mm/lru.h"
#include "mm/migrate.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"

using namespace pagesim;
using namespace pagesim::mm;
using namespace pagesim::drivers;
using namespace pagesim::testing;
using pagesim::kernel::Kernel;
using pagesim::kernel::KernelConfig;

namespace {

constexpr uint32_t kPages = 1024;

void set(Kernel& k, TestDriverOption o, int64_t v) { call(k, "test_driver_set", {int64_t(o), v}); }

// A single task running an entry point, with the Kernel's teardown checks.
RunResult run_one(Kernel& k, const char* entry, std::vector<int64_t> args, int64_t* ret = nullptr) {
  Sim sim(sim_cfg(1), &k, std::make_unique<RandomStrategy>(1));
  sim.set_teardown([&k](Sim& s) {
    for (auto& o : k.teardown_outcomes()) s.add_outcome(std::move(o));
  });
  sim.spawn(0, entry, [&, entry, args] {
    const int64_t v = call(k, entry, args);
    if (ret) *ret = v;
  });
  return sim.run();
}

ScriptStep before(CpuId cpu, const char* func, ObjId obj = kNoObj) {
  ScriptStep s;
  s.cpu = cpu;
  s.until = ScriptStep::Until::Before;
  s.func = intern(func);
  s.obj = obj;
  return s;
}

ScriptStep done(CpuId cpu) {
  ScriptStep s;
  s.cpu = cpu;
  return s;
}

}  // namespace

// ---- the driver's side of the contract ----

TEST(TestDriverContract, AllocMakesMovablePagesOnItsList) {
  Kernel k = make_kernel();
  const int64_t first = call(k, "test_driver_alloc", {3});
  const std::vector<Pfn> pages = test_driver_pages(k);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(int64_t(pages[0]), first);
  const TestDriver& d = k.test_driver;
  ASSERT_TRUE(d.present);
  EXPECT_EQ(k.mappings[d.mapping].a_ops, &test_driver_aops);
  EXPECT_EQ(k.lists[d.pages].count, 3u);
  for (size_t i = 0; i < pages.size(); ++i) {
    const Page& pg = k.page(pages[i]);
    EXPECT_EQ(pg.mapping, mapping_value(d.mapping) | PAGE_MAPPING_MOVABLE);
    EXPECT_EQ(pg.refcount, 1);
    EXPECT_EQ(pg.owner, Owner::TestDriver);
    EXPECT_FALSE(pg.flags & (1ull << PG_locked));
    EXPECT_EQ(pg.list, d.pages);
    EXPECT_EQ(pg.content, d.objects[i].content);
    EXPECT_NE(pg.content, 0u);
  }
  EXPECT_EQ(join(test_driver_check(k)), "");
  EXPECT_TRUE(k.teardown_outcomes().empty());
}

TEST(TestDriverContract, EntryPointsValidateTheirArguments) {
  Kernel k = make_kernel();
  EXPECT_THROW(call(k, "test_driver_alloc", {0}), UsageError);
  EXPECT_THROW(call(k, "test_driver_alloc", {-2}), UsageError);
  const Pfn p = Pfn(call(k, "test_driver_alloc", {1}));
  EXPECT_THROW(call(k, "test_driver_release", {-1}), UsageError);
  EXPECT_THROW(call(k, "test_driver_release", {int64_t(kPages)}), UsageError);
  try {
    call(k, "test_driver_release", {p + 1});
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a test driver page"), std::string::npos) << e.what();
  }
  EXPECT_THROW(call(k, "test_driver_set", {99, 1}), UsageError);
  EXPECT_THROW(call(k, "test_driver_set", {int64_t(TestDriverOption::Busy), 2}), UsageError);
  EXPECT_THROW(call(k, "test_driver_set", {int64_t(TestDriverOption::MigrateError), -1}), UsageError);
  EXPECT_EQ(call(k, "test_driver_set", {int64_t(TestDriverOption::MigrateError), 16}), 0);
  EXPECT_EQ(call(k, "test_driver_set", {int64_t(TestDriverOption::MigrateError), 0}), 16);
  EXPECT_THROW(call(k, "test_driver_mmap", {p, 0}), UsageError);  // no process 0
  EXPECT_THROW(call(k, "test_driver_write", {p + 1}), UsageError);
  call(k, "test_driver_release", {p});
  EXPECT_THROW(call(k, "test_driver_release", {p}), UsageError);  // released already
  EXPECT_TRUE(is_free(k, p));
  EXPECT_EQ(join(test_driver_check(k)), "");
}

TEST(TestDriverContract, ReleaseClearsMovableUnderThePageLockAndFrees) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {2});
  const std::vector<Pfn> pages = test_driver_pages(k);
  const RunResult r = run_one(k, "test_driver_release", {pages[0]});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_TRUE(PageBuddy(k, pages[0]) || is_free(k, pages[0]));
  EXPECT_EQ(k.page(pages[0]).mapping, 0u);
  EXPECT_EQ(test_driver_pages(k), std::vector<Pfn>{pages[1]});
  EXPECT_EQ(k.lists[k.test_driver.pages].count, 1u);
  EXPECT_EQ(k.test_driver.released, 1u);
  EXPECT_EQ(join(test_driver_check(k)), "");
}

// ---- migration ----

TEST(TestDriverMigration, CompactPageMovesContentAndBookkeeping) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {2});
  const Pfn p = test_driver_pages(k)[0];
  const uint32_t token = uint32_t(call(k, "test_driver_write", {p}));
  int64_t ret = -1;
  const RunResult r = run_one(k, "compact_page", {p}, &ret);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(ret, 0);
  const Pfn n = test_driver_pages(k)[0];
  EXPECT_NE(n, p);
  EXPECT_EQ(k.page(n).content, token);
  EXPECT_EQ(k.test_driver.objects[0].content, token);
  EXPECT_EQ(k.page(n).mapping, mapping_value(k.test_driver.mapping) | PAGE_MAPPING_MOVABLE);
  EXPECT_EQ(k.page(n).refcount, 1);  // the driver's get_page; the VM dropped its own
  EXPECT_EQ(k.page(n).owner, Owner::TestDriver);
  EXPECT_EQ(k.page(n).list, k.test_driver.pages);
  EXPECT_TRUE(is_free(k, p));
  EXPECT_EQ(k.test_driver.isolate_calls, 1u);
  EXPECT_EQ(k.test_driver.migrate_calls, 1u);
  EXPECT_EQ(k.test_driver.putback_calls, 0u);
  EXPECT_EQ(k.test_driver.nr_isolated, 0u);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_SUCCESS), 1);
  EXPECT_EQ(join(test_driver_check(k)), "");
}

TEST(TestDriverMigration, BusyIsEagainForTenPassesThenPutback) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::Busy, 1);
  int64_t ret = -1;
  const RunResult r = run_one(k, "compact_page", {p}, &ret);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(ret, 1);
  EXPECT_EQ(k.test_driver.migrate_calls, 10u);  // migrate_pages: at most 10 passes
  EXPECT_EQ(k.test_driver.putback_calls, 1u);
  EXPECT_EQ(test_driver_pages(k), std::vector<Pfn>{p});
  EXPECT_FALSE(k.page(p).flags & (1ull << PG_isolated));
  EXPECT_EQ(k.page(p).refcount, 1);
  EXPECT_EQ(k.stat(Stat::PGMIGRATE_FAIL), 1);
  EXPECT_EQ(join(test_driver_check(k)), "");
}

TEST(TestDriverMigration, OtherErrorsArePermanentForThisRun) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::MigrateError, EBUSY);
  int64_t ret = -1;
  const RunResult r = run_one(k, "compact_page", {p}, &ret);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(ret, 1);
  EXPECT_EQ(k.test_driver.migrate_calls, 1u);
  EXPECT_EQ(k.test_driver.putback_calls, 1u);
  EXPECT_EQ(test_driver_pages(k), std::vector<Pfn>{p});
  EXPECT_EQ(join(test_driver_check(k)), "");
}

TEST(TestDriverMigration, RefusedIsolationLeavesThePageAlone) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::RefuseIsolate, 1);
  int64_t ret = -1;
  const RunResult r = run_one(k, "compact_page", {p}, &ret);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(ret, 0);
  EXPECT_EQ(k.test_driver.isolate_calls, 1u);
  EXPECT_EQ(k.test_driver.migrate_calls, 0u);
  EXPECT_EQ(k.page(p).refcount, 1);
  EXPECT_EQ(join(test_driver_check(k)), "");
}

// ---- released while isolated: the VM's path ----

namespace {

// Compaction (CPU 0) has isolated the page and is about to allocate its target
// (alloc_migrate_target, before unmap_and_move looks at page_count); the driver
// (CPU 1) releases it; then compaction goes on.
RunResult release_while_isolated(Kernel& k, Pfn p, const char* then_before = "alloc_pages") {
  std::vector<ScriptStep> steps = {before(0, then_before), done(1), done(0)};
  Sim sim(sim_cfg(2), &k, std::make_unique<ScriptStrategy>(steps, std::make_unique<RandomStrategy>(1)));
  sim.set_teardown([&k](Sim& s) {
    for (auto& o : k.teardown_outcomes()) s.add_outcome(std::move(o));
  });
  sim.spawn(0, "compact_page", [&k, p] { call(k, "compact_page", {p}); });
  sim.spawn(1, "test_driver_release", [&k, p] { call(k, "test_driver_release", {p}); });
  return sim.run();
}

}  // namespace

TEST(TestDriverRelease, ReleasedWhileIsolatedGoesThroughTheVmsReleasedPagePath) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {2});
  const Pfn p = test_driver_pages(k)[0];
  const int64_t free_before = k.stats[size_t(Stat::NR_FREE_PAGES)];
  const RunResult r = release_while_isolated(k, p);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  // unmap_and_move saw page_count == 1 (only the isolation reference): no driver callback,
  // PG_isolated cleared under the page lock, the page freed once by the VM's put_page.
  EXPECT_EQ(k.test_driver.isolate_calls, 1u);
  EXPECT_EQ(k.test_driver.migrate_calls, 0u);
  EXPECT_EQ(k.test_driver.putback_calls, 0u);
  EXPECT_EQ(k.test_driver.nr_isolated, 0u);
  EXPECT_TRUE(PageBuddy(k, p) || is_free(k, p));
  EXPECT_FALSE(k.page(p).flags & (1ull << PG_isolated));
  EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)], free_before + 1);
  EXPECT_EQ(test_driver_pages(k).size(), 1u);
  EXPECT_EQ(join(test_driver_check(k)), "");
}

TEST(TestDriverRelease, EveryInterleavingOfReleaseAndMigrationFreesThePageOnce) {
  Kernel init = make_kernel();
  call(init, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(init)[0];
  std::map<std::string, uint64_t> outcomes;
  std::vector<std::string> problems;
  uint64_t before_isolation = 0, while_isolated = 0, after_migration = 0;
  const DfsStats st = explore_dfs(
      [&](std::unique_ptr<Strategy> s) {
        Kernel k = init;
        SimConfig c = sim_cfg(2);
        c.trace = false;
        Sim sim(c, &k, std::move(s));
        sim.set_teardown([&k](Sim& sm) {
          for (auto& o : k.teardown_outcomes()) sm.add_outcome(std::move(o));
        });
        sim.spawn(0, "compact_page", [&k, p] { call(k, "compact_page", {p}); });
        // The driver releases its object wherever migration has put it by then.
        sim.spawn(1, "release", [&k] { test_driver_release(k, 0); });
        const RunResult r = sim.run();
        if (r.outcomes.empty()) outcomes["ok"]++;
        for (const auto& o : r.outcomes) outcomes[o.key() + ": " + o.message]++;
        const TestDriver& d = k.test_driver;
        if (d.isolate_calls == 0) {
          ++before_isolation;
        } else if (d.migrated == 0) {
          // Released while isolated: the VM never calls the driver for the page again.
          ++while_isolated;
          if ((d.migrate_calls || d.putback_calls) && problems.size() < 5)
            problems.push_back("driver called back for a released page");
        } else {
          ++after_migration;
        }
        if (r.outcomes.empty()) {
          if (k.stats[size_t(Stat::NR_FREE_PAGES)] != int64_t(kPages) && problems.size() < 5)
            problems.push_back("free pages " + std::to_string(k.stats[size_t(Stat::NR_FREE_PAGES)]));
          for (auto& c : test_driver_check(k))
            if (problems.size() < 5) problems.push_back(c);
        }
        return true;
      },
      200000, 2);
  std::string d = std::to_string(st.executions) + " executions";
  for (const auto& [key, n] : outcomes) d += "\n  " + key + ": " + std::to_string(n);
  for (const auto& pr : problems) d += "\n  problem: " + pr;
  EXPECT_TRUE(st.exhausted) << d;
  EXPECT_EQ(outcomes.size(), 1u) << d;
  EXPECT_GT(outcomes["ok"], 0u) << d;
  EXPECT_TRUE(problems.empty()) << d;
  // Each way the release can meet the migration happens in some schedule.
  EXPECT_GT(before_isolation, 0u) << d;
  EXPECT_GT(while_isolated, 0u) << d;
  EXPECT_GT(after_migration, 0u) << d;
}

// ---- a buggy driver: what the VM reports ----

TEST(TestDriverBugs, SettingPgIsolatedItselfIsWarnedByTheVm) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::SetPgIsolated, 1);
  const RunResult r = run_one(k, "compact_page", {p});
  const Outcome* w = find(r, "warn:isolate_movable_page");
  ASSERT_NE(w, nullptr) << outcomes_str(r);
  EXPECT_NE(w->message.find("WARN_ON_ONCE(PageIsolated(page))"), std::string::npos) << w->message;
  EXPECT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);  // the migration itself goes on
  EXPECT_EQ(k.test_driver.migrated, 1u);
}

TEST(TestDriverBugs, TouchingLruWhileIsolatedCorruptsTheVmsList) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::TouchLruWhileIsolated, 1);
  const RunResult r = run_one(k, "compact_page", {p});
  // migratepage list_del'ed the page off cc->migratepages; unmap_and_move's own list_del
  // then finds a poisoned lru.
  const Outcome* o = find(r, "oops:unmap_and_move");
  ASSERT_NE(o, nullptr) << outcomes_str(r);
  EXPECT_NE(o->message.find("list_del corruption"), std::string::npos) << o->message;
  EXPECT_NE(o->message.find("LIST_POISON1"), std::string::npos) << o->message;
}

TEST(TestDriverBugs, TouchingLruOfAPageReleasedWhileIsolated) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::TouchLruWhileIsolated, 1);
  const RunResult r = release_while_isolated(k, p);
  const Outcome* o = find(r, "oops:unmap_and_move");
  ASSERT_NE(o, nullptr) << outcomes_str(r);
  EXPECT_NE(o->message.find("list_del corruption"), std::string::npos) << o->message;
}

TEST(TestDriverBugs, ForgettingClearMovableOnReleaseMakesTheVmCallTheDriverAgain) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::ForgetClearMovable, 1);
  // Release after the VM checked page_count but before it locked the page for migration:
  // the page still looks PageMovable, so move_to_new_page calls the driver's migratepage
  // for an object the driver has freed.
  const RunResult r = release_while_isolated(k, p, "__unmap_and_move");
  const Outcome* o = find(r, "oops:test_driver_migratepage");
  ASSERT_NE(o, nullptr) << outcomes_str(r);
  EXPECT_NE(o->message.find("NULL pointer dereference"), std::string::npos) << o->message;
}

TEST(TestDriverBugs, ForgettingTheNewpageReferenceFreesThePageUnderTheDriver) {
  Kernel k = make_kernel();
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::ForgetGetNewpage, 1);
  const RunResult r = run_one(k, "compact_page", {p});
  // __unmap_and_move's put_page(newpage) drops the last reference of a page that is still
  // on the driver's list: the buddy allocator's list_add finds it linked there.
  ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
  const Outcome& o = r.outcomes[0];
  EXPECT_EQ(o.key(), "bug:__list_add");
  EXPECT_NE(o.message.find("is already on test_driver pages"), std::string::npos) << o.message;
  const std::vector<std::string> want = {"put_page", "__unmap_and_move"};
  EXPECT_NE(std::search(o.backtrace.begin(), o.backtrace.end(), want.begin(), want.end()),
            o.backtrace.end())
      << outcomes_str(r);
}

// ---- the mmap variant: a PTE-mapped non-LRU page in 4.8 ----

TEST(TestDriverMmap, MigrationLeavesTheProcessOnTheOldPage) {
  Kernel k = make_kernel();
  const uint32_t pid = process_create(k, "app");
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  const int64_t v = call(k, "test_driver_mmap", {p, pid});
  EXPECT_EQ(v, 0);
  EXPECT_EQ(k.page(p).refcount, 2);
  EXPECT_EQ(k.page(p).mapcount + 1, 1);  // page_mapcount
  EXPECT_EQ(join(test_driver_check(k)), "");
  int64_t ret = -1;
  const RunResult r = run_one(k, "compact_page", {p}, &ret);
  // Nothing in the 4.8 non-LRU path refuses a mapped page: the migration "succeeds", and
  // the run's teardown check reports the process's stale mapping.
  EXPECT_EQ(ret, 0);
  const Pfn n = test_driver_pages(k)[0];
  ASSERT_NE(n, p);
  ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
  EXPECT_EQ(r.outcomes[0].key(), "invariant:test_driver_check");
  EXPECT_EQ(r.outcomes[0].message,
            "test_driver: process 'app' vpage 0 maps pfn " + std::to_string(p) + " but object 0 is at pfn " +
                std::to_string(n) +
                ": stale mapping (4.8 migrated the PTE-mapped non-LRU page without try_to_unmap / "
                "remove_migration_ptes)");
  // No try_to_unmap / remove_migration_ptes: the pte still points at the old page, which
  // the pte's reference keeps allocated, orphaned (no longer PageMovable, off every list).
  EXPECT_EQ(k.processes[pid].pte[0], p);
  EXPECT_EQ(k.page(p).refcount, 1);
  EXPECT_EQ(k.page(p).mapcount + 1, 1);
  EXPECT_EQ(k.page(p).mapping, PAGE_MAPPING_MOVABLE);
  EXPECT_EQ(k.page(p).list, kPoisonList);
  const std::string check = join(test_driver_check(k));
  EXPECT_NE(check.find("maps pfn " + std::to_string(p) + " but object 0 is at pfn " + std::to_string(n)),
            std::string::npos)
      << check;
  EXPECT_NE(check.find("stale mapping"), std::string::npos) << check;
  // Once the driver writes its object, the process reads stale data.
  EXPECT_EQ(process_verify(k, pid), 0u);
  call(k, "test_driver_write", {n});
  EXPECT_EQ(process_verify(k, pid), 1u);
  EXPECT_EQ(k.teardown_outcomes().size(), 1u);
  // The process unmapping its pte frees the orphan cleanly.
  process_unmap(k, pid, 0);
  EXPECT_TRUE(is_free(k, p));
  EXPECT_TRUE(k.teardown_outcomes().empty());
  call(k, "test_driver_release", {n});
  EXPECT_TRUE(k.teardown_outcomes().empty());
}

TEST(TestDriverMmap, RawPfnMappingBecomesAUseAfterFree) {
  Kernel k = make_kernel();
  const uint32_t pid = process_create(k, "app");
  call(k, "test_driver_alloc", {1});
  const Pfn p = test_driver_pages(k)[0];
  set(k, TestDriverOption::MmapNoRef, 1);
  call(k, "test_driver_mmap", {p, pid});
  EXPECT_EQ(k.page(p).refcount, 1);
  EXPECT_EQ(k.page(p).mapcount, -1);
  const RunResult r = run_one(k, "compact_page", {p});
  ASSERT_EQ(r.outcomes.size(), 1u) << outcomes_str(r);
  EXPECT_EQ(r.outcomes[0].key(), "invariant:test_driver_check");
  EXPECT_NE(r.outcomes[0].message.find("the mapped page is free (use-after-free"), std::string::npos)
      << r.outcomes[0].message;
  EXPECT_EQ(k.processes[pid].pte[0], p);
  EXPECT_TRUE(is_free(k, p));
  const std::string check = join(test_driver_check(k));
  EXPECT_NE(check.find("use-after-free"), std::string::npos) << check;
  EXPECT_EQ(process_verify(k, pid), 1u);  // the freed page no longer holds the data
}
