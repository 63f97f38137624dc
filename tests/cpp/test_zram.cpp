// zram over zsmalloc (drivers/block/zram/zram_drv.c of 4.8): writes and reads round trip
// through zs_map_object, overwrites and discards free the old object, zero pages take no
// memory, the swap path frees in atomic context without sleeping, memory pressure makes
// writes fail cleanly, and compaction and migration keep the data.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "drivers/drivers.h"
#include "engine/intern.h"
#include "explore/dfs.h"
#include "explore/script.h"
#include "kernel/entry.h"
#include "kernel/kernel.h"
#include "kernel_support.h"
#include "mm/compaction.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"

using namespace pagesim;
using namespace pagesim::mm;
using namespace pagesim::drivers;
using namespace pagesim::testing;
using pagesim::kernel::Kernel;
using pagesim::kernel::KernelConfig;

namespace {

bool has(const RunResult& r, const std::string& key) {
  for (const auto& o : r.outcomes)
    if (o.key() == key) return true;
  return false;
}

std::string checks(const Kernel& k) { return join(zsmalloc_check(k)) + join(zram_check(k)); }

int64_t nr_zspages(const Kernel& k) { return k.stats[size_t(Stat::NR_ZSPAGES)]; }

struct Job {
  CpuId cpu;
  std::string name;
  std::function<void(Kernel&)> body;
};

Job entry(CpuId cpu, const char* name, std::vector<int64_t> args, int64_t* ret = nullptr) {
  return {cpu, name, [name, args, ret](Kernel& k) {
            const int64_t v = call(k, name, args);
            if (ret) *ret = v;
          }};
}

RunResult run(Kernel& k, uint32_t cpus, std::unique_ptr<Strategy> st, const std::vector<Job>& jobs,
              bool debug_atomic_sleep = true, bool trace = true) {
  SimConfig c;
  c.cpus = cpus;
  c.debug_atomic_sleep = debug_atomic_sleep;
  c.trace = trace;
  Sim sim(c, &k, std::move(st));
  // The kernel's teardown checks include zsmalloc_check and zram_check.
  sim.set_teardown([&k](Sim& s) {
    for (auto& o : k.teardown_outcomes()) s.add_outcome(std::move(o));
  });
  for (const auto& j : jobs) sim.spawn(j.cpu, j.name, [&k, body = j.body] { body(k); });
  return sim.run();
}

ScriptStep after(CpuId cpu, const char* func) { return {cpu, ScriptStep::Until::After, intern(func), kNoObj, 0}; }
ScriptStep done(CpuId cpu) { return {cpu, ScriptStep::Until::Done, 0, kNoObj, 0}; }

}  // namespace

TEST(ZramBasic, WriteReadOverwriteZeroAndDiscard) {
  Kernel k = make_kernel();
  EXPECT_EQ(call(k, "zram_create", {16}), 0);
  const uint32_t pool = uint32_t(call(k, "zram_pool"));
  EXPECT_EQ(call(k, "zram_write", {0, 1000, 5}), 0);
  EXPECT_EQ(call(k, "zram_write", {1, 2000, 6}), 0);
  EXPECT_EQ(call(k, "zram_read", {0}), 5);
  EXPECT_EQ(call(k, "zram_read", {1}), 6);
  EXPECT_EQ(call(k, "zram_read", {2}), 0);  // never written
  const int64_t h0 = call(k, "zram_handle", {0});
  ASSERT_NE(h0, 0);
  // Overwrite: the new object is written first, then the old one freed under the slot lock.
  // 3500 bytes is over max_zpage_size (3072): stored as a whole page (a huge object).
  EXPECT_EQ(call(k, "zram_write", {0, 3500, 7}), 0);
  EXPECT_EQ(call(k, "zram_read", {0}), 7);
  const int64_t h0b = call(k, "zram_handle", {0});
  EXPECT_NE(h0b, 0);
  EXPECT_FALSE(zs_handle_valid(k, pool, uint64_t(h0)) && h0 != h0b);
  const auto big = zs_pages_of(k, pool, uint64_t(h0b));
  ASSERT_EQ(big.size(), 1u);
  EXPECT_TRUE((k.page(big[0]).flags >> PG_owner_priv_1) & 1);  // huge object
  EXPECT_EQ(k.zram.stats.compr_data_size, 4096u + 2000u);
  EXPECT_EQ(k.zram.stats.pages_stored, 2u);
  // A zero-filled page takes no memory.
  const int64_t zspages = nr_zspages(k);
  EXPECT_EQ(call(k, "zram_write", {3, 100, 0}), 0);
  EXPECT_EQ(call(k, "zram_handle", {3}), 0);
  EXPECT_EQ(k.zram.stats.zero_pages, 1u);
  EXPECT_EQ(nr_zspages(k), zspages);
  EXPECT_EQ(call(k, "zram_read", {3}), 0);
  EXPECT_EQ(checks(k), "");
  // Discard and swap's free notify release the objects.
  call(k, "zram_discard", {0});
  call(k, "zram_slot_free_notify", {1});
  call(k, "zram_discard", {3});
  EXPECT_EQ(call(k, "zram_read", {0}), 0);
  EXPECT_EQ(call(k, "zram_read", {1}), 0);
  EXPECT_EQ(k.zram.stats.pages_stored, 0u);
  EXPECT_EQ(k.zram.stats.zero_pages, 0u);
  EXPECT_EQ(k.zram.stats.notify_free, 3u);
  EXPECT_EQ(k.zram.stats.compr_data_size, 0u);
  EXPECT_EQ(nr_zspages(k), 0);
  EXPECT_EQ(checks(k), "");
}

TEST(ZramBasic, MisuseRaisesUsageErrors) {
  Kernel k = make_kernel();
  EXPECT_THROW(call(k, "zram_write", {0, 100, 1}), UsageError);  // no device
  EXPECT_THROW(call(k, "zram_pool"), UsageError);
  EXPECT_THROW(call(k, "zram_create", {0}), UsageError);
  call(k, "zram_create", {4});
  EXPECT_THROW(call(k, "zram_create", {4}), UsageError);
  EXPECT_THROW(call(k, "zram_write", {4, 100, 1}), UsageError);
  EXPECT_THROW(call(k, "zram_write", {-1, 100, 1}), UsageError);
  EXPECT_THROW(call(k, "zram_write", {0, 0, 1}), UsageError);
  EXPECT_THROW(call(k, "zram_write", {0, 4097, 1}), UsageError);
  EXPECT_THROW(call(k, "zram_write", {0, 100, -1}), UsageError);
  EXPECT_THROW(call(k, "zram_read", {9}), UsageError);
  EXPECT_THROW(call(k, "zram_slot_free_notify", {4}), UsageError);
  EXPECT_EQ(checks(k), "");
}

TEST(ZramBasic, ACorruptedObjectIsReportedOnRead) {
  Kernel k = make_kernel();
  call(k, "zram_create", {4});
  call(k, "zram_write", {2, 500, 99});
  // Something scribbles over the object's memory (the model's page memory).
  const uint32_t pool = k.zram.pool;
  const auto pages = zs_pages_of(k, pool, k.zram.table[2].handle);
  for (auto& slot : *k.zsmalloc.memory(pages[0])) slot.content = slot.content ? 12345 : 0;
  EXPECT_THROW(call(k, "zram_read", {2}), SetupFault);
  const RunResult r = run(k, 1, std::make_unique<RandomStrategy>(1), {entry(0, "zram_read", {2})});
  EXPECT_TRUE(has(r, "corruption")) << outcomes_str(r);
  EXPECT_EQ(k.zram.stats.failed_reads, 2u);  // the set-up read and the task's
}

TEST(ZramAtomic, SlotFreeNotifyDefersInsteadOfSleepingUnderTheSwapLock) {
  // CPU 1 holds the page lock of the slot's zspage (a migration would); swap frees the
  // slot under the swap_info spinlock: zs_free's trylock_zspage fails and the free goes to
  // the worker. With CONFIG_DEBUG_ATOMIC_SLEEP a sleeping lock would be reported.
  Kernel k = make_kernel();
  call(k, "zram_create", {4});
  call(k, "zram_write", {0, 3000, 8});
  const auto pages = zs_pages_of(k, k.zram.pool, k.zram.table[0].handle);
  ASSERT_EQ(pages.size(), 3u);
  const RunResult r = run(k, 3,
                          std::make_unique<ScriptStrategy>(
                              std::vector<ScriptStep>{after(1, "lock_page"), done(2), done(1)},
                              std::make_unique<RandomStrategy>(1)),
                          {entry(1, "lock_page", {pages[2]}), entry(2, "zram_slot_free_notify", {0}),
                           entry(1, "unlock_page", {pages[2]})});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_FALSE(has(r, "bug:__might_sleep"));
  EXPECT_EQ(nr_zspages(k), 0);
  for (Pfn p : pages) EXPECT_EQ(k.page(p).refcount, 0);
}

TEST(ZramAtomic, EveryInterleavingOfSwapFreeAndMigrationStaysAtomicAndClean) {
  Kernel init = make_kernel();
  call(init, "zram_create", {4});
  call(init, "zram_write", {0, 1500, 8});
  call(init, "zram_write", {1, 1500, 9});
  const auto pages = zs_pages_of(init, init.zram.pool, init.zram.table[0].handle);
  DfsStats st = explore_dfs(
      [&](std::unique_ptr<Strategy> s) {
        Kernel k = init;
        const RunResult r = run(k, 3, std::move(s),
                                {entry(1, "zram_slot_free_notify", {0}), entry(2, "compact_page", {pages[0]})},
                                true, false);
        EXPECT_TRUE(r.ok()) << outcomes_str(r);
        EXPECT_EQ(call(k, "zram_read", {1}), 9);
        return r.ok();
      },
      200000, 2);
  EXPECT_TRUE(st.exhausted) << st.executions << " runs";
}

TEST(ZramPressure, WritesFailCleanlyWhenMemoryRunsOutAndCompactionKeepsTheData) {
  Kernel k = make_kernel();
  call(k, "zram_create", {2048});
  // Fill the device with 3000-byte pages (3-page zspages of 4) until zs_malloc fails
  // on both the fast and the slow path.
  uint32_t stored = 0;
  for (uint32_t i = 0; i < 2048; ++i) {
    const int64_t rc = call(k, "zram_write", {i, 3000, 100 + i});
    if (rc != 0) {
      EXPECT_EQ(rc, -ENOMEM);
      break;
    }
    ++stored;
  }
  ASSERT_GT(stored, 100u);
  ASSERT_LT(stored, 2048u);
  EXPECT_EQ(k.zram.stats.failed_writes, 1u);
  EXPECT_GE(k.zram.stats.writestall, 1u);
  EXPECT_EQ(checks(k), "");
  // Free three of every four slots: the zspages are mostly empty; zram's compact packs them.
  for (uint32_t i = 0; i < stored; ++i)
    if (i % 4) call(k, "zram_discard", {i});
  const int64_t before = nr_zspages(k);
  const int64_t compacted = call(k, "zram_compact");
  EXPECT_GT(compacted, 0);
  EXPECT_EQ(nr_zspages(k), before - compacted);
  for (uint32_t i = 0; i < stored; i += 4) EXPECT_EQ(call(k, "zram_read", {i}), 100 + i);
  EXPECT_EQ(checks(k), "");
  // Compact the whole zone: zsmalloc pages move like any movable page.
  call(k, "compact_memory");
  EXPECT_GT(k.stats[size_t(Stat::PGMIGRATE_SUCCESS)], 0);
  for (uint32_t i = 0; i < stored; i += 4) EXPECT_EQ(call(k, "zram_read", {i}), 100 + i);
  EXPECT_EQ(checks(k), "");
  // Writing again succeeds now that memory was freed.
  EXPECT_EQ(call(k, "zram_write", {stored, 3000, 7}), 0);
  EXPECT_EQ(call(k, "zram_read", {stored}), 7);
}

TEST(ZramPressure, ConcurrentWritersReadersAndCompactionKeepEverySlot) {
  Kernel init = make_kernel();
  call(init, "zram_create", {64});
  for (uint32_t i = 0; i < 32; ++i) call(init, "zram_write", {i, 200 + 97 * i % 3000, 1 + i});
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Kernel k = init;
    std::vector<Job> jobs;
    jobs.push_back({1, "writer", [](Kernel& kk) {
                      for (uint32_t i = 0; i < 32; i += 3) call(kk, "zram_write", {i, 300 + i, 1000 + i});
                    }});
    jobs.push_back({2, "discard", [](Kernel& kk) {
                      for (uint32_t i = 1; i < 32; i += 3) call(kk, "zram_slot_free_notify", {i});
                    }});
    jobs.push_back(entry(3, "zram_compact", {}));
    jobs.push_back({0, "compact", [](Kernel& kk) { call(kk, "compact_memory"); }});
    const RunResult r = run(k, 4, std::make_unique<RandomStrategy>(seed), jobs, true, false);
    EXPECT_TRUE(r.ok()) << "seed " << seed << "\n" << outcomes_str(r);
    for (uint32_t i = 0; i < 32; ++i) {
      const int64_t want = i % 3 == 0 ? 1000 + i : i % 3 == 1 ? 0 : 1 + i;
      EXPECT_EQ(call(k, "zram_read", {i}), want) << "seed " << seed << " slot " << i;
    }
  }
}
