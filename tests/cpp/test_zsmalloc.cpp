// zsmalloc (mm/zsmalloc.c of 4.8): the contract of each function, object contents across
// page migration and zs_compact, the deferred free, scripted interleavings with
// migration, and the races of the movable series: Chulmin Kim's zs_free double isolation
// (seed 002) and the alloc_zspage/zs_page_isolate race under the v3 series, and the
// c102f07ca0b0 pin-bit race of zs_compact against zs_free.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
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

// Teardown of a run: the kernel's checks (leaks, invariants, and the drivers' own:
// zsmalloc_check, zram_check).
void add_checks(Sim& sim, Kernel& k) {
  sim.set_teardown([&k](Sim& s) {
    for (auto& o : k.teardown_outcomes()) s.add_outcome(std::move(o));
  });
}

struct Job {
  CpuId cpu;
  std::string name;
  std::function<void(Kernel&)> body;
};

Job entry_task(CpuId cpu, const char* entry, std::vector<int64_t> args, int64_t* ret = nullptr) {
  return {cpu, entry, [entry, args, ret](Kernel& k) {
            const int64_t v = call(k, entry, args);
            if (ret) *ret = v;
          }};
}

RunResult run_tasks(Kernel& k, uint32_t cpus, std::unique_ptr<Strategy> st, const std::vector<Job>& tasks,
                    bool checks = true) {
  Sim sim(sim_cfg(cpus), &k, std::move(st));
  if (checks) add_checks(sim, k);
  for (const auto& t : tasks) sim.spawn(t.cpu, t.name, [&k, body = t.body] { body(k); });
  return sim.run();
}

RunResult run_script(Kernel& k, uint32_t cpus, std::vector<ScriptStep> steps, const std::vector<Job>& tasks,
                     uint64_t seed = 1) {
  return run_tasks(k, cpus,
                   std::make_unique<ScriptStrategy>(std::move(steps), std::make_unique<RandomStrategy>(seed)),
                   tasks);
}

ScriptStep before(CpuId cpu, const char* func, ObjId obj = kNoObj) {
  return {cpu, ScriptStep::Until::Before, intern(func), obj, 0};
}
ScriptStep after(CpuId cpu, const char* func, ObjId obj = kNoObj) {
  return {cpu, ScriptStep::Until::After, intern(func), obj, 0};
}
ScriptStep done(CpuId cpu) { return {cpu, ScriptStep::Until::Done, 0, kNoObj, 0}; }

// How many times a task entered a model function during a run.
int entered(const RunResult& r, const char* func) {
  const uint32_t f = intern(func);
  int n = 0;
  for (const auto& t : r.trace)
    if (t.kind == TraceKind::Enter && t.func == f) ++n;
  return n;
}

const SizeClass& class_for(const Kernel& k, uint32_t pool, size_t size) {
  const ZsPool& p = k.zsmalloc.pools[pool];
  return p.classes[zs_class_slot(p, size)];
}

std::vector<Pfn> pages_of(const Kernel& k, uint32_t pool, int64_t h) { return zs_pages_of(k, pool, uint64_t(h)); }

int64_t nr_zspages(const Kernel& k) { return k.stats[size_t(Stat::NR_ZSPAGES)]; }

uint64_t flag(const Kernel& k, Pfn p, int bit) { return (k.page(p).flags >> bit) & 1; }

}  // namespace

// ---- size classes ----

TEST(ZsClasses, PagesPerZspageMinimiseWasteOverOneToFourPages) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  // 3000 bytes + the 8-byte handle: class 3008 merges into 3072, 4 objects in 3 pages.
  const SizeClass& c3000 = class_for(k, pool, 3000);
  EXPECT_EQ(c3000.size, 3072u);
  EXPECT_EQ(c3000.pages_per_zspage, 3u);
  EXPECT_EQ(c3000.objs_per_zspage, 4u);
  EXPECT_EQ(c3000.index, 190u);
  // The smallest class: 32 bytes, one page of 128 objects.
  const SizeClass& c1 = class_for(k, pool, 1);
  EXPECT_EQ(c1.size, 32u);
  EXPECT_EQ(c1.pages_per_zspage, 1u);
  EXPECT_EQ(c1.objs_per_zspage, 128u);
  // Near PAGE_SIZE every class is a one-object, one-page "huge" class.
  const SizeClass& huge = class_for(k, pool, 4000);
  EXPECT_EQ(huge.size, 4096u);
  EXPECT_EQ(huge.pages_per_zspage, 1u);
  EXPECT_EQ(huge.objs_per_zspage, 1u);
  EXPECT_EQ(&class_for(k, pool, 4096 - 8), &huge);
  // 1000 + 8 -> 1008: one page of 4 objects, merged into class 1024 (also 1 page, 4 objects).
  const SizeClass& c1000 = class_for(k, pool, 1000);
  EXPECT_EQ(c1000.size, 1024u);
  EXPECT_EQ(c1000.pages_per_zspage, 1u);
  EXPECT_EQ(c1000.objs_per_zspage, 4u);
  // Merged classes are few: the distinct ones are kept per pool.
  const auto& classes = k.zsmalloc.pools[pool].classes;
  EXPECT_LT(classes.size(), size_t(zs::ZS_SIZE_CLASSES));
  for (size_t i = 1; i < classes.size(); ++i) {
    EXPECT_LT(classes[i - 1].index, classes[i].index);
    EXPECT_TRUE(classes[i - 1].pages_per_zspage != classes[i].pages_per_zspage ||
                classes[i - 1].objs_per_zspage != classes[i].objs_per_zspage);
  }
}

// ---- zs_malloc / zs_free ----

TEST(ZsMalloc, AThreeThousandByteObjectLandsInAThreePageZspage) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const int64_t h = call(k, "zs_malloc", {pool, 3000});
  ASSERT_EQ(h, 1);
  const auto pages = pages_of(k, pool, h);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(nr_zspages(k), 3);
  const uint32_t id = zs_zspage_of(k, pool, uint64_t(h));
  ASSERT_NE(id, 0u);
  const Zspage& z = k.zsmalloc.zspages[id];
  EXPECT_EQ(z.magic, zs::ZSPAGE_MAGIC);
  EXPECT_EQ(z.inuse, 1u);
  EXPECT_EQ(z.fullness, ZS_ALMOST_EMPTY);
  EXPECT_EQ(z.list, int8_t(ZS_ALMOST_EMPTY));
  EXPECT_EQ(z.isolated, 0u);
  EXPECT_EQ(z.first_page, pages[0]);
  for (size_t i = 0; i < pages.size(); ++i) {
    const Page& p = k.page(pages[i]);
    EXPECT_EQ(p.private_, id);
    EXPECT_EQ(p.owner, Owner::Zsmalloc);
    EXPECT_EQ(p.refcount, 1);
    EXPECT_EQ(flag(k, pages[i], PG_private), i == 0);
    EXPECT_EQ(flag(k, pages[i], PG_private_2), i == 2);
    EXPECT_EQ(flag(k, pages[i], PG_locked), 0u);
    // 4.8: PG_movable is page->mapping bit 0x2 over the pool's anon inode mapping.
    EXPECT_EQ(p.mapping & PAGE_MAPPING_FLAGS, PAGE_MAPPING_MOVABLE);
    EXPECT_EQ(mapping_id(p.mapping), k.zsmalloc.pools[pool].mapping);
    // The page chain runs through page->index (pfn + 1; 0 ends it).
    EXPECT_EQ(p.index, i + 1 < pages.size() ? uint64_t(pages[i + 1]) + 1 : 0u);
  }
  EXPECT_EQ(k.mappings[k.zsmalloc.pools[pool].mapping].a_ops, &zsmalloc_aops);
  // *handle: (pfn << OBJ_INDEX_BITS | obj_idx) << OBJ_TAG_BITS, pin bit clear.
  EXPECT_EQ(k.zsmalloc.pools[pool].handles[0].word, (uint64_t(pages[0]) << zs::OBJ_INDEX_BITS) << 1);
  EXPECT_EQ(join(zsmalloc_check(k)), "");

  call(k, "zs_free", {pool, h});
  EXPECT_EQ(nr_zspages(k), 0);
  for (Pfn p : pages) {
    EXPECT_TRUE(PageBuddy(k, p) || is_free(k, p)) << dump_page(k, p);
    EXPECT_EQ(k.page(p).flags, 0u) << dump_page(k, p);
    EXPECT_EQ(k.page(p).mapping, 0u);
    EXPECT_EQ(k.page(p).owner, Owner::None);
  }
  EXPECT_FALSE(k.zsmalloc.zspages[id].allocated);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
  EXPECT_EQ(join([&] {
              std::vector<std::string> v;
              for (const auto& o : k.teardown_outcomes()) v.push_back(o.report());
              return v;
            }()),
            "");
}

TEST(ZsMalloc, FullnessGroupsFollowInuseAndZsMallocFillsTheFullestZspageFirst) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  // Class 1024: 4 objects a zspage. inuse 1..3 -> ZS_ALMOST_EMPTY, 4 -> ZS_FULL.
  std::vector<int64_t> h;
  for (int i = 0; i < 4; ++i) h.push_back(call(k, "zs_malloc", {pool, 1000}));
  const uint32_t z1 = zs_zspage_of(k, pool, uint64_t(h[0]));
  for (int64_t x : h) EXPECT_EQ(zs_zspage_of(k, pool, uint64_t(x)), z1);
  EXPECT_EQ(k.zsmalloc.zspages[z1].fullness, ZS_FULL);
  const SizeClass& c = class_for(k, pool, 1000);
  EXPECT_EQ(c.fullness_list.list(ZS_FULL), std::vector<uint32_t>{z1});
  // A fifth object opens a second zspage.
  const int64_t h5 = call(k, "zs_malloc", {pool, 1000});
  const uint32_t z2 = zs_zspage_of(k, pool, uint64_t(h5));
  EXPECT_NE(z2, z1);
  EXPECT_EQ(c.fullness_list.list(ZS_ALMOST_EMPTY), std::vector<uint32_t>{z2});
  // Freeing one object of the full zspage moves it to ZS_ALMOST_EMPTY, at the head
  // (higher inuse first).
  call(k, "zs_free", {pool, h[1]});
  EXPECT_EQ(k.zsmalloc.zspages[z1].fullness, ZS_ALMOST_EMPTY);
  EXPECT_EQ(c.fullness_list.list(ZS_ALMOST_EMPTY), (std::vector<uint32_t>{z1, z2}));
  EXPECT_TRUE(c.fullness_list.empty(ZS_FULL));
  // find_get_zspage takes the list head: the freed object's slot is reused.
  const int64_t h6 = call(k, "zs_malloc", {pool, 1000});
  EXPECT_EQ(h6, h5 + 1);  // a new handle: KASAN's quarantine keeps the freed one
  EXPECT_EQ(zs_zspage_of(k, pool, uint64_t(h6)), z1);
  EXPECT_EQ(c.stats[OBJ_USED], 5u);
  EXPECT_EQ(c.stats[OBJ_ALLOCATED], 8u);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMalloc, WriteAndReadRoundTripAndHugeObjectsKeepTheirHeaderInPageIndex) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const int64_t a = call(k, "zs_malloc", {pool, 100});
  const int64_t b = call(k, "zs_malloc", {pool, 100});
  const int64_t big = call(k, "zs_malloc", {pool, 4090});
  call(k, "zs_write", {pool, a, 11});
  call(k, "zs_write", {pool, b, 22});
  call(k, "zs_write", {pool, big, 33});
  EXPECT_EQ(call(k, "zs_read", {pool, a}), 11);
  EXPECT_EQ(call(k, "zs_read", {pool, b}), 22);
  EXPECT_EQ(call(k, "zs_read", {pool, big}), 33);
  const auto bp = pages_of(k, pool, big);
  ASSERT_EQ(bp.size(), 1u);
  EXPECT_EQ(flag(k, bp[0], PG_owner_priv_1), 1u);  // PageHugeObject
  EXPECT_EQ(flag(k, bp[0], PG_private), 1u);
  EXPECT_EQ(flag(k, bp[0], PG_private_2), 1u);
  EXPECT_EQ(k.page(bp[0]).index, (uint64_t(big) << 1) | zs::OBJ_ALLOCATED_TAG);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
  call(k, "zs_free", {pool, big});
  EXPECT_TRUE(is_free(k, bp[0]));
  EXPECT_EQ(k.page(bp[0]).index, 0u);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMalloc, MisuseRaisesUsageErrors) {
  Kernel k = make_kernel();
  EXPECT_THROW(call(k, "zs_malloc", {0, 100}), UsageError);  // no pool yet
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  EXPECT_THROW(call(k, "zs_malloc", {pool, 0}), UsageError);
  EXPECT_THROW(call(k, "zs_malloc", {pool, 4097}), UsageError);
  EXPECT_THROW(call(k, "zs_malloc", {pool + 1, 100}), UsageError);
  EXPECT_THROW(call(k, "zs_malloc", {-1, 100}), UsageError);
  const int64_t h = call(k, "zs_malloc", {pool, 100});
  EXPECT_THROW(call(k, "zs_free", {pool, h + 1}), UsageError);  // never returned
  EXPECT_THROW(call(k, "zs_read", {pool, 0}), UsageError);
  EXPECT_THROW(call(k, "zs_write", {pool, h, -1}), UsageError);
  EXPECT_THROW(call(k, "zs_write", {pool, h, int64_t(1) << 32}), UsageError);
  EXPECT_THROW(call(k, "zs_malloc_gfp", {pool, 100, -5}), UsageError);
  EXPECT_THROW(call(k, "zs_free", {pool}), UsageError);  // argument count
  call(k, "zs_free", {pool, h});
  EXPECT_THROW(call(k, "zs_free", {pool, h}), UsageError);  // freed
  EXPECT_THROW(call(k, "zs_read", {pool, h}), UsageError);
  EXPECT_THROW(call(k, "zs_page_of", {pool, h, 0}), UsageError);
  EXPECT_THROW(call(k, "putback_isolated", {int64_t(kPages)}), UsageError);
  EXPECT_THROW(call(k, "migrate_isolated", {-1}), UsageError);
  call(k, "zs_destroy_pool", {pool});
  EXPECT_THROW(call(k, "zs_malloc", {pool, 100}), UsageError);  // destroyed
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMalloc, AllocZspageFailureFreesThePartialZspageAndReturnsZero) {
  KernelConfig kc;
  kc.zones = {{"Normal", 512, MIGRATE_MOVABLE}};
  Kernel k(kc);
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  // Without __GFP_MEMALLOC the watermarks stop the allocator before the zone is empty;
  // fill with 3-page zspages until zs_malloc fails.
  std::vector<int64_t> hs;
  for (;;) {
    const int64_t h = call(k, "zs_malloc_gfp", {pool, 3000, int64_t(GFP_NOWAIT | __GFP_MOVABLE)});
    if (!h) break;
    hs.push_back(h);
    ASSERT_LT(hs.size(), 1000u);
  }
  ASSERT_GT(hs.size(), 100u);
  // Every zspage is whole: the failed one's pages went back.
  EXPECT_EQ(nr_zspages(k) % 3, 0);
  EXPECT_EQ(uint64_t(nr_zspages(k)), 3 * ((hs.size() + 3) / 4));
  EXPECT_EQ(join(zsmalloc_check(k)), "");
  for (int64_t h : hs) call(k, "zs_free", {pool, h});
  EXPECT_EQ(nr_zspages(k), 0);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMalloc, DestroyingAPoolWithLiveObjectsLeaksItsZspages) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  call(k, "zs_malloc", {pool, 100});
  call(k, "zs_destroy_pool", {pool});
  const auto msgs = zsmalloc_check(k);
  ASSERT_FALSE(msgs.empty());
  EXPECT_NE(join(msgs).find("destroyed pool 0 is leaked"), std::string::npos) << join(msgs);
}

// zsmalloc_check names what disagrees: a class's counters against its zspages (in two
// pools, several classes each), the pool's page count, a sub-page, a handle, a leaked page.
TEST(ZsMalloc, CheckReportsEachDisagreement) {
  Kernel k = make_kernel();
  const uint32_t p0 = uint32_t(call(k, "zs_create_pool"));
  const uint32_t p1 = uint32_t(call(k, "zs_create_pool"));
  std::vector<int64_t> hs;
  for (uint32_t pool : {p0, p1})
    for (int size : {100, 1000, 1000, 3000, 3000, 3000}) hs.push_back(call(k, "zs_malloc", {pool, size}));
  ASSERT_EQ(join(zsmalloc_check(k)), "");
  auto& c = const_cast<SizeClass&>(class_for(k, p1, 3000));
  const std::string cls = "pool 1 class " + std::to_string(c.index);
  c.stats[OBJ_USED] += 1;
  EXPECT_EQ(join(zsmalloc_check(k)), cls + ": OBJ_USED 4 but zspages hold 3\n");
  c.stats[OBJ_USED] -= 1;
  c.stats[OBJ_ALLOCATED] += c.objs_per_zspage;
  EXPECT_EQ(join(zsmalloc_check(k)), cls + ": OBJ_ALLOCATED " + std::to_string(2 * c.objs_per_zspage) +
                                         " for 1 zspages\n");
  c.stats[OBJ_ALLOCATED] -= c.objs_per_zspage;
  k.zsmalloc.pools[p0].pages_allocated += 1;
  const int64_t pages0 = k.zsmalloc.pools[p0].pages_allocated;
  EXPECT_EQ(join(zsmalloc_check(k)), "pool 0: pages_allocated " + std::to_string(pages0) +
                                         " but zspages hold " + std::to_string(pages0 - 1) + "\n");
  k.zsmalloc.pools[p0].pages_allocated -= 1;
  ASSERT_EQ(join(zsmalloc_check(k)), "");

  const uint32_t zs = zs_zspage_of(k, p1, uint64_t(hs[9]));
  const std::vector<Pfn> pages = zs_pages_of(k, p1, uint64_t(hs[9]));
  k.page(pages[1]).flags |= uint64_t(1) << PG_locked;
  EXPECT_EQ(join(zsmalloc_check(k)), "zspage " + std::to_string(zs) + " page 1 (pfn " +
                                         std::to_string(pages[1]) + "): still locked\n");
  k.page(pages[1]).flags &= ~(uint64_t(1) << PG_locked);
  k.zsmalloc.pools[p1].handles[size_t(hs[7]) - 1].word |= 1;  // HANDLE_PIN_BIT
  EXPECT_EQ(join(zsmalloc_check(k)), "pool 1 handle " + std::to_string(hs[7]) + ": still pinned\n");
  k.zsmalloc.pools[p1].handles[size_t(hs[7]) - 1].word &= ~uint64_t(1);
  const Pfn stray = alloc_pages(k, GFP_KERNEL, 0, Owner::Zsmalloc);
  const auto msgs = zsmalloc_check(k);
  ASSERT_EQ(msgs.size(), 1u) << join(msgs);
  EXPECT_EQ(msgs[0].rfind("leak: pfn " + std::to_string(stray) +
                              " is owned by zsmalloc but belongs to no live zspage (leaked): ",
                          0),
            0u)
      << msgs[0];
}

// ---- migration of a zsmalloc page (zs_page_isolate / zs_page_migrate) ----

namespace {

// A pool with objects of 200 bytes (class 208: 19 objects in one page), all written.
struct SmallObjects {
  uint32_t pool;
  std::vector<int64_t> h;
};

SmallObjects small_objects(Kernel& k, int n, int64_t size = 200) {
  SmallObjects s{uint32_t(call(k, "zs_create_pool")), {}};
  for (int i = 0; i < n; ++i) {
    s.h.push_back(call(k, "zs_malloc", {s.pool, size}));
    call(k, "zs_write", {s.pool, s.h.back(), 1000 + i});
  }
  return s;
}

void expect_contents(Kernel& k, const SmallObjects& s) {
  for (size_t i = 0; i < s.h.size(); ++i)
    EXPECT_EQ(call(k, "zs_read", {s.pool, s.h[i]}), int64_t(1000 + i)) << "handle " << s.h[i];
}

}  // namespace

TEST(ZsMigrate, CompactRangeMovesAZsmallocPageAndItsObjectsKeepTheirContents) {
  Kernel k = make_kernel();
  SmallObjects s = small_objects(k, 10);
  const Pfn old = pages_of(k, s.pool, s.h[0])[0];
  const uint32_t id = zs_zspage_of(k, s.pool, uint64_t(s.h[0]));
  int64_t ret = -1;
  const RunResult r = run_tasks(k, 1, std::make_unique<RandomStrategy>(1),
                                {entry_task(0, "compact_page", {old}, &ret)});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(ret, 0);
  const Pfn now = pages_of(k, s.pool, s.h[0])[0];
  EXPECT_NE(now, old);
  EXPECT_EQ(zs_zspage_of(k, s.pool, uint64_t(s.h[0])), id);  // the same zspage, a new page
  EXPECT_EQ(k.zsmalloc.zspages[id].first_page, now);
  EXPECT_EQ(k.page(now).refcount, 1);
  EXPECT_EQ(k.page(now).owner, Owner::Zsmalloc);
  EXPECT_EQ(flag(k, now, PG_private), 1u);
  EXPECT_EQ(flag(k, now, PG_isolated), 0u);
  EXPECT_TRUE(PageBuddy(k, old) || is_free(k, old));
  EXPECT_EQ(k.page(old).flags, 0u);
  EXPECT_EQ(k.stats[size_t(Stat::PGMIGRATE_SUCCESS)], 1);
  EXPECT_EQ(entered(r, "zs_page_isolate"), 1);
  EXPECT_EQ(entered(r, "zs_page_migrate"), 1);
  expect_contents(k, s);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMigrate, EveryPageOfAMultiPageZspageMigratesAndTheChainFollows) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  std::vector<int64_t> h;
  for (int i = 0; i < 4; ++i) {
    h.push_back(call(k, "zs_malloc", {pool, 3000}));
    call(k, "zs_write", {pool, h.back(), 70 + i});
  }
  const auto before_pages = pages_of(k, pool, h[0]);
  ASSERT_EQ(before_pages.size(), 3u);
  for (Pfn p : before_pages) EXPECT_EQ(call(k, "compact_page", {p}), 0);
  const auto after_pages = pages_of(k, pool, h[0]);
  ASSERT_EQ(after_pages.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NE(after_pages[i], before_pages[i]);
    // A freed page may serve as the target of the next migration.
    if (std::find(after_pages.begin(), after_pages.end(), before_pages[i]) == after_pages.end()) {
      EXPECT_TRUE(is_free(k, before_pages[i])) << dump_page(k, before_pages[i]);
    }
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(call(k, "zs_read", {pool, h[size_t(i)]}), 70 + i);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMigrate, HugeObjectPageMigratesWithItsHeader) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const int64_t h = call(k, "zs_malloc", {pool, 4000});
  call(k, "zs_write", {pool, h, 4242});
  const Pfn old = pages_of(k, pool, h)[0];
  EXPECT_EQ(call(k, "compact_page", {old}), 0);
  const Pfn now = pages_of(k, pool, h)[0];
  EXPECT_NE(now, old);
  EXPECT_EQ(flag(k, now, PG_owner_priv_1), 1u);
  EXPECT_EQ(k.page(now).index, (uint64_t(h) << 1) | 1);
  EXPECT_EQ(call(k, "zs_read", {pool, h}), 4242);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMigrate, IsolateThenPutbackReturnsTheZspageToItsList) {
  Kernel k = make_kernel();
  SmallObjects s = small_objects(k, 3);
  const Pfn p = pages_of(k, s.pool, s.h[0])[0];
  const uint32_t id = zs_zspage_of(k, s.pool, uint64_t(s.h[0]));
  ASSERT_EQ(call(k, "isolate_movable_page", {p}), 1);
  EXPECT_EQ(k.zsmalloc.zspages[id].isolated, 1u);
  EXPECT_EQ(k.zsmalloc.zspages[id].list, kZsNoList);  // off its class list: no allocation from it
  EXPECT_EQ(flag(k, p, PG_isolated), 1u);
  EXPECT_EQ(k.page(p).refcount, 2);
  // An isolated zspage takes no new objects: zs_malloc opens another zspage.
  const int64_t other = call(k, "zs_malloc", {s.pool, 200});
  EXPECT_NE(zs_zspage_of(k, s.pool, uint64_t(other)), id);
  EXPECT_EQ(join(zsmalloc_check(k, false)), "");
  call(k, "putback_isolated", {p});
  EXPECT_EQ(k.zsmalloc.zspages[id].isolated, 0u);
  EXPECT_EQ(k.zsmalloc.zspages[id].list, int8_t(ZS_ALMOST_EMPTY));
  EXPECT_EQ(flag(k, p, PG_isolated), 0u);
  EXPECT_EQ(k.page(p).refcount, 1);
  call(k, "zs_free", {s.pool, other});
  expect_contents(k, s);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMigrate, MigrateIsolatedMovesTheIsolatedPage) {
  Kernel k = make_kernel();
  SmallObjects s = small_objects(k, 5);
  const Pfn p = pages_of(k, s.pool, s.h[0])[0];
  ASSERT_EQ(call(k, "isolate_movable_page", {p}), 1);
  EXPECT_EQ(call(k, "migrate_isolated", {p}), 0);
  EXPECT_NE(pages_of(k, s.pool, s.h[0])[0], p);
  EXPECT_TRUE(is_free(k, p));
  expect_contents(k, s);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
  EXPECT_EQ(k.stats[size_t(Stat::NR_ISOLATED_ANON)] + k.stats[size_t(Stat::NR_ISOLATED_FILE)], 0);
}

TEST(ZsMigrate, TwoSubPagesIsolatedAtOnceCountTwoIsolationsAndTheLastPutbackRelists) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const int64_t h = call(k, "zs_malloc", {pool, 3000});
  const auto pages = pages_of(k, pool, h);
  const uint32_t id = zs_zspage_of(k, pool, uint64_t(h));
  ASSERT_EQ(call(k, "isolate_movable_page", {pages[0]}), 1);
  ASSERT_EQ(call(k, "isolate_movable_page", {pages[2]}), 1);
  EXPECT_EQ(k.zsmalloc.zspages[id].isolated, 2u);
  // Migrating one of them: the zspage stays isolated (off the lists) until the last one.
  EXPECT_EQ(call(k, "migrate_isolated", {pages[2]}), 0);
  EXPECT_EQ(k.zsmalloc.zspages[id].isolated, 1u);
  EXPECT_EQ(k.zsmalloc.zspages[id].list, kZsNoList);
  call(k, "putback_isolated", {pages[0]});
  EXPECT_EQ(k.zsmalloc.zspages[id].isolated, 0u);
  EXPECT_EQ(k.zsmalloc.zspages[id].list, int8_t(ZS_ALMOST_EMPTY));
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

TEST(ZsMigrate, AnEmptyZspageIsNeitherIsolatedNorMigrated) {
  // zs_free of the last object while a sub-page is isolated leaves an empty, isolated
  // zspage: another isolation is refused (inuse == 0), migration returns -EBUSY and the
  // putback hands the zspage to the free worker.
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const int64_t h = call(k, "zs_malloc", {pool, 3000});
  const auto pages = pages_of(k, pool, h);
  const uint32_t id = zs_zspage_of(k, pool, uint64_t(h));
  ASSERT_EQ(call(k, "isolate_movable_page", {pages[1]}), 1);
  call(k, "zs_free", {pool, h});
  EXPECT_TRUE(k.zsmalloc.zspages[id].allocated);  // "zs_page_putback will free the zspage"
  EXPECT_EQ(k.zsmalloc.zspages[id].fullness, ZS_EMPTY);
  EXPECT_EQ(call(k, "isolate_movable_page", {pages[0]}), 0);
  EXPECT_EQ(k.zsmalloc.zspages[id].isolated, 1u);
  // migrate_isolated: -EBUSY is a permanent failure: the page is put back at once.
  EXPECT_EQ(call(k, "migrate_isolated", {pages[1]}), 1);
  EXPECT_EQ(k.zsmalloc.zspages[id].isolated, 0u);
  EXPECT_EQ(k.zsmalloc.zspages[id].list, int8_t(ZS_EMPTY));
  EXPECT_TRUE(k.works[k.zsmalloc.pools[pool].free_work].pending);
  // The worker (run inline by flush_work in set-up) frees it.
  call(k, "zs_destroy_pool", {pool});
  EXPECT_FALSE(k.zsmalloc.zspages[id].allocated);
  for (Pfn p : pages) EXPECT_TRUE(is_free(k, p));
  EXPECT_EQ(nr_zspages(k), 0);
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

// ---- zs_compact ----

TEST(ZsCompact, CompactionPacksObjectsAndFreesEmptiedZspagesKeepingContents) {
  Kernel k = make_kernel();
  // Class 1024: 4 objects a zspage. 24 objects in 6 zspages; free all but one object
  // of each zspage but the first two: 4 + 4 + 4 x 1 objects in 6 zspages.
  SmallObjects s = small_objects(k, 24, 1000);
  for (size_t i = 0; i < s.h.size(); ++i) {
    if (i < 8 || i % 4 == 0) continue;
    call(k, "zs_free", {s.pool, s.h[i]});
  }
  EXPECT_EQ(nr_zspages(k), 6);
  const int64_t compacted = call(k, "zs_compact", {s.pool});
  EXPECT_EQ(compacted, 3);  // 4 x 1 objects fit in one zspage
  EXPECT_EQ(nr_zspages(k), 3);
  EXPECT_EQ(k.zsmalloc.pools[s.pool].pages_compacted, 3u);
  for (size_t i = 0; i < s.h.size(); ++i) {
    if (i < 8 || i % 4 == 0) {
      EXPECT_EQ(call(k, "zs_read", {s.pool, s.h[i]}), int64_t(1000 + i));
    }
  }
  EXPECT_EQ(join(zsmalloc_check(k)), "");
  // Nothing left to gain: 4.8's zs_compact returns the pool's running total, unchanged
  // (since 239592815805 it returns what this call freed).
  EXPECT_EQ(call(k, "zs_compact", {s.pool}), 3);
  EXPECT_EQ(k.zsmalloc.pools[s.pool].pages_compacted, 3u);
}

TEST(ZsCompact, CompactionInATaskKeepsContentsAndLeavesNothingBehind) {
  Kernel k = make_kernel();
  SmallObjects s = small_objects(k, 60, 200);  // class 208: 19 a page -> 4 zspages
  for (size_t i = 0; i < s.h.size(); i += 2) call(k, "zs_free", {s.pool, s.h[i]});
  int64_t ret = -1;
  const RunResult r =
      run_tasks(k, 1, std::make_unique<RandomStrategy>(3), {entry_task(0, "zs_compact", {s.pool}, &ret)});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_GE(ret, 1);
  for (size_t i = 1; i < s.h.size(); i += 2) EXPECT_EQ(call(k, "zs_read", {s.pool, s.h[i]}), int64_t(1000 + i));
  EXPECT_EQ(join(zsmalloc_check(k)), "");
}

// ---- deferred free ----

TEST(ZsDeferredFree, ALockedSubPageDefersTheFreeToTheWorker) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const int64_t h = call(k, "zs_malloc", {pool, 3000});
  const auto pages = pages_of(k, pool, h);
  const uint32_t id = zs_zspage_of(k, pool, uint64_t(h));
  // CPU 1 holds the lock of the middle page; CPU 2 frees the last object: trylock_zspage
  // fails, kick_deferred_free queues pool->free_work; CPU 1 unlocks; the worker (CPU 0)
  // sleeps in lock_zspage if needed and frees every page.
  const RunResult r = run_script(
      k, 3, {after(1, "lock_page"), done(2), done(1)},
      {entry_task(1, "lock_page", {pages[1]}), entry_task(2, "zs_free", {pool, h}),
       entry_task(1, "unlock_page", {pages[1]})});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(entered(r, "trylock_zspage"), 1);
  EXPECT_EQ(entered(r, "async_free_zspage"), 1);
  EXPECT_EQ(entered(r, "__free_zspage"), 1);
  EXPECT_FALSE(k.zsmalloc.zspages[id].allocated);
  for (Pfn p : pages) EXPECT_TRUE(PageBuddy(k, p) || is_free(k, p)) << dump_page(k, p);
  EXPECT_EQ(nr_zspages(k), 0);
}

TEST(ZsDeferredFree, TheWorkerWaitsForAPageLockHeldAfterTheSplice) {
  Kernel k = make_kernel();
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const int64_t h = call(k, "zs_malloc", {pool, 3000});
  const auto pages = pages_of(k, pool, h);
  // CPU 1 locks page 2; CPU 2 frees (deferred); the worker splices the empty zspage and
  // sleeps in lock_zspage on page 2 until CPU 1 unlocks it.
  const RunResult r = run_script(
      k, 3, {after(1, "lock_page"), done(2), before(0, "lock_page", page_obj(pages[2])), done(1)},
      {entry_task(1, "lock_page", {pages[2]}), entry_task(2, "zs_free", {pool, h}),
       entry_task(1, "unlock_page", {pages[2]})});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  for (Pfn p : pages) EXPECT_TRUE(is_free(k, p));
  EXPECT_EQ(nr_zspages(k), 0);
}

// ---- scripted interleavings with migration ----

TEST(ZsInterleave, MigrationReturnsEagainWhileAHandleIsPinnedThenSucceeds) {
  Kernel k = make_kernel();
  SmallObjects s = small_objects(k, 6);
  const int64_t h = s.h[2];
  const Pfn p = pages_of(k, s.pool, h)[0];
  int64_t read = -1, ret = -1;
  // CPU 1 reads h and stops in zs_unmap_object between migrate_read_unlock and unpin_tag:
  // the migrate lock is free but the handle is pinned. CPU 2's migration finds the pin
  // (trypin_tag fails): -EAGAIN. CPU 1 unpins; migrate_pages' next pass succeeds.
  const RunResult r = run_script(
      k, 3, {before(1, "unpin_tag", zs_handle_obj(s.pool, uint64_t(h))), after(2, "zs_page_migrate"), done(1), done(2)},
      {entry_task(1, "zs_read", {s.pool, h}, &read), entry_task(2, "compact_page", {p}, &ret)});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(read, 1002);
  EXPECT_EQ(ret, 0);
  EXPECT_GE(entered(r, "zs_page_migrate"), 2);
  EXPECT_EQ(entered(r, "zs_page_isolate"), 1);
  EXPECT_NE(pages_of(k, s.pool, h)[0], p);
  EXPECT_TRUE(is_free(k, p));
  expect_contents(k, s);
}

TEST(ZsInterleave, MigrationWaitsForAMappedObjectsMigrateReadLock) {
  Kernel k = make_kernel();
  SmallObjects s = small_objects(k, 6);
  const int64_t h = s.h[0];
  const Pfn p = pages_of(k, s.pool, h)[0];
  const uint32_t id = zs_zspage_of(k, s.pool, uint64_t(h));
  int64_t ret = -1;
  // CPU 1 has h mapped (pin + migrate_read_lock) and stops before zs_unmap_object;
  // CPU 2's zs_page_migrate spins in migrate_write_lock until the mapping goes.
  const RunResult r = run_script(
      k, 3, {before(1, "zs_unmap_object"), before(2, "zs_page_migrate", zspage_obj(id)), done(1), done(2)},
      {entry_task(1, "zs_write", {s.pool, h, 777}), entry_task(2, "compact_page", {p}, &ret)});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(ret, 0);
  EXPECT_EQ(call(k, "zs_read", {s.pool, h}), 777);
  EXPECT_NE(pages_of(k, s.pool, h)[0], p);
}

namespace {

// Runs every schedule (within the preemption bound) of `tasks` on a copy of `init`;
// returns the outcome keys seen with their counts, and checks each run with `check`.
struct Explored {
  std::map<std::string, uint64_t> keys;  // "ok" for clean runs
  DfsStats stats;
  std::vector<CpuId> first_bad;          // a schedule that was not ok
};

Explored explore(const Kernel& init, uint32_t cpus, const std::vector<Job>& tasks, uint32_t bound,
                 uint64_t max_runs, const std::function<void(Kernel&, const RunResult&)>& check = {}) {
  Explored e;
  e.stats = explore_dfs(
      [&](std::unique_ptr<Strategy> st) {
        Kernel k = init;
        SimConfig c = sim_cfg(cpus);
        c.trace = false;
        Sim sim(c, &k, std::move(st));
        add_checks(sim, k);
        for (const auto& t : tasks) sim.spawn(t.cpu, t.name, [&k, body = t.body] { body(k); });
        const RunResult r = sim.run();
        if (r.outcomes.empty()) e.keys["ok"]++;
        std::set<std::string> seen;
        for (const auto& o : r.outcomes) seen.insert(o.key());
        for (const auto& key : seen) e.keys[key]++;
        if (!r.ok() && e.first_bad.empty()) e.first_bad = r.schedule;
        if (check) check(k, r);
        return true;
      },
      max_runs, bound);
  if (getenv("ZS_DFS_VERBOSE")) fprintf(stderr, "dfs: %llu runs\n", (unsigned long long)e.stats.executions);
  return e;
}

std::string keys_str(const Explored& e) {
  std::string s;
  for (const auto& [k, n] : e.keys) s += k + " x" + std::to_string(n) + "\n";
  return s + (e.stats.exhausted ? "(exhausted, " : "(not exhausted, ") + std::to_string(e.stats.executions) +
         " runs)";
}

}  // namespace

TEST(ZsInterleave, EveryInterleavingOfAReaderAndAMigrationIsCleanAndKeepsTheData) {
  Kernel init = make_kernel();
  SmallObjects s = small_objects(init, 4);
  const int64_t h = s.h[1];
  const Pfn p = pages_of(init, s.pool, h)[0];
  int64_t read = -1;
  const Explored e = explore(init, 2,
                             {entry_task(0, "zs_read", {s.pool, h}, &read), entry_task(1, "compact_page", {p})}, 2,
                             200000, [&](Kernel& k, const RunResult&) {
                               EXPECT_EQ(read, 1001);
                               EXPECT_EQ(zs_peek(k, s.pool, uint64_t(h)), 1001u);
                             });
  EXPECT_TRUE(e.stats.exhausted) << keys_str(e);
  EXPECT_EQ(e.keys.size(), 1u) << keys_str(e);
  EXPECT_EQ(e.keys.count("ok"), 1u) << keys_str(e);
}

TEST(ZsInterleave, EveryInterleavingOfTheLastZsFreeAndAMigrationIsCleanOnV48) {
  // The zspage's last object is freed while compaction migrates its page: zs_free defers
  // to the putback (isolated), or to the worker (a page locked), or frees it before the
  // isolation (which then fails), and the page is freed exactly once.
  Kernel init = make_kernel();
  const uint32_t pool = uint32_t(call(init, "zs_create_pool"));
  const int64_t h = call(init, "zs_malloc", {pool, 1000});
  const Pfn p = pages_of(init, pool, h)[0];
  const int64_t free_before = init.stats[size_t(Stat::NR_FREE_PAGES)];
  const Explored e = explore(init, 3, {entry_task(1, "zs_free", {pool, h}), entry_task(2, "compact_page", {p})}, 2,
                             400000, [&](Kernel& k, const RunResult& r) {
                               if (!r.ok()) return;
                               EXPECT_TRUE(is_free(k, p));
                               EXPECT_EQ(nr_zspages(k), 0);
                               EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)], free_before + 1);
                             });
  EXPECT_TRUE(e.stats.exhausted) << keys_str(e);
  EXPECT_EQ(e.keys.size(), 1u) << keys_str(e);
  EXPECT_EQ(e.keys.count("ok"), 1u) << keys_str(e);
}

TEST(ZsInterleave, EveryInterleavingOfZsCompactAndAMigrationIsClean) {
  // Class 1024 (4 objects a zspage): Z1 = {a, b}, Z2 = {c}. zs_compact moves a and b into
  // Z2 and frees Z1, while compaction migrates a page of either zspage.
  for (int target = 0; target < 2; ++target) {
    Kernel init = make_kernel();
    const uint32_t pool = uint32_t(call(init, "zs_create_pool"));
    std::vector<int64_t> h;
    for (int i = 0; i < 8; ++i) {
      h.push_back(call(init, "zs_malloc", {pool, 1000}));
      call(init, "zs_write", {pool, h.back(), 500 + i});
    }
    for (int i : {5, 6, 7, 2, 3}) call(init, "zs_free", {pool, h[size_t(i)]});
    const Pfn p = pages_of(init, pool, h[target ? 4 : 0])[0];
    const Explored e = explore(init, 2, {entry_task(0, "zs_compact", {pool}), entry_task(1, "compact_page", {p})}, 2,
                               400000, [&](Kernel& k, const RunResult& r) {
                                 if (!r.ok()) return;
                                 for (int i : {0, 1, 4})
                                   EXPECT_EQ(zs_peek(k, pool, uint64_t(h[size_t(i)])), uint32_t(500 + i));
                               });
    EXPECT_TRUE(e.stats.exhausted) << keys_str(e);
    EXPECT_EQ(e.keys.size(), 1u) << "target " << target << "\n" << keys_str(e);
    EXPECT_EQ(e.keys.count("ok"), 1u) << keys_str(e);
  }
}

// ---- seed 002: the zs_free double isolation (Chulmin Kim, 12 Apr 2016) ----

namespace {

struct Seed002 {
  Kernel k;
  uint32_t pool;
  int64_t h;
  Pfn T;  // the 2nd page of h's zspage
  uint32_t list;  // migrate context A's private list
};

Seed002 seed002(const std::string& preset) {
  Seed002 s{make_kernel(preset), 0, 0, 0, 0};
  s.pool = uint32_t(call(s.k, "zs_create_pool"));
  s.h = call(s.k, "zs_malloc", {s.pool, 3000});
  s.T = Pfn(call(s.k, "zs_page_of", {s.pool, s.h, 1}));
  s.list = s.k.get_private_list("migrate_ctx_A");
  return s;
}

// Migrate context A isolates T onto its private list the way compaction does.
Job ctx_a_isolate(const Seed002& s) {
  return {1, "migrate_ctx_A", [T = s.T, list = s.list](Kernel& k) {
            if (!isolate_movable_page(k, T, 0)) return;
            list_add(k, T, list);
            if (!k.cfg.has(Fix::NrIsolatedLruOnly)) k.stat(nr_isolated_stat(k, T))++;  // acct_isolated
          }};
}

Job ctx_a_putback(const Seed002& s) {
  return {1, "migrate_ctx_A", [list = s.list](Kernel& k) { putback_movable_pages(k, list); }};
}

}  // namespace

TEST(ZsSeed002, MovableV3IsolatesTwiceAndOopsesInZsPageIsolate) {
  Seed002 s = seed002("movable-v3");
  int64_t b = -1;
  // A isolates T and keeps it; C's zs_free frees the last object and, v3, the whole
  // zspage: reset_page keeps T "PageMovable" but clears "PageIsolated"; B isolates T
  // again and zs_page_isolate dereferences T's NULL zspage.
  const RunResult r = run_script(s.k, 4, {done(1), done(3), done(2)},
                                 {ctx_a_isolate(s), entry_task(3, "zs_free", {s.pool, s.h}),
                                  {2, "migrate_ctx_B", [&b, T = s.T](Kernel& k) { b = isolate_movable_page(k, T, 0); }}});
  const Outcome* o = find(r, "oops:zs_page_isolate");
  ASSERT_NE(o, nullptr) << outcomes_str(r);
  EXPECT_EQ(o->task_name, "migrate_ctx_B");
  EXPECT_NE(o->message.find("NULL pointer dereference"), std::string::npos) << o->report();
  ASSERT_GE(o->backtrace.size(), 2u);
  EXPECT_EQ(o->backtrace[0], "zs_page_isolate");
  EXPECT_EQ(o->backtrace[1], "isolate_movable_page");
  EXPECT_EQ(b, -1);  // B never returned
  // C freed the zspage under A's feet: T is still on A's list with only A's reference
  // (plus B's, taken by get_page_unless_zero before it died).
  EXPECT_EQ(s.k.page(s.T).list, s.list);
  EXPECT_EQ(s.k.page(s.T).private_, 0u);
  EXPECT_EQ(s.k.page(s.T).refcount, 2);
}

TEST(ZsSeed002, V48RefusesTheSecondIsolationAndTheWorkerFreesTIOnce) {
  Seed002 s = seed002("v4.8");
  const int64_t free_before = s.k.stats[size_t(Stat::NR_FREE_PAGES)];
  const uint32_t id = zs_zspage_of(s.k, s.pool, uint64_t(s.h));
  const auto pages = pages_of(s.k, s.pool, s.h);
  int64_t b = -1;
  const RunResult r = run_script(s.k, 4, {after(1, "isolate_movable_page"), done(3), done(2), done(1)},
                                 {ctx_a_isolate(s), entry_task(3, "zs_free", {s.pool, s.h}),
                                  {2, "migrate_ctx_B", [&b, T = s.T](Kernel& k) { b = isolate_movable_page(k, T, 0); }},
                                  ctx_a_putback(s)});
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(b, 0);  // PageIsolated under the page lock: refused
  EXPECT_EQ(entered(r, "zs_page_isolate"), 1);  // only A's isolation reached the driver
  EXPECT_EQ(entered(r, "free_zspage"), 0);      // zs_free left the isolated zspage alone
  EXPECT_EQ(entered(r, "zs_page_putback"), 1);
  EXPECT_EQ(entered(r, "async_free_zspage"), 1);
  EXPECT_EQ(entered(r, "__free_zspage"), 1);
  EXPECT_FALSE(s.k.zsmalloc.zspages[id].allocated);
  for (Pfn p : pages) {
    EXPECT_TRUE(PageBuddy(s.k, p) || is_free(s.k, p)) << dump_page(s.k, p);
    EXPECT_EQ(s.k.page(p).refcount, 0);
  }
  // T freed exactly once: all three pages are back, no more.
  EXPECT_EQ(s.k.stats[size_t(Stat::NR_FREE_PAGES)], free_before + 3);
  EXPECT_EQ(nr_zspages(s.k), 0);
}

TEST(ZsSeed002, V48EveryInterleavingOfTheThreeContextsIsClean) {
  Seed002 s = seed002("v4.8");
  const int64_t free_before = s.k.stats[size_t(Stat::NR_FREE_PAGES)];
  const Job b{2, "migrate_ctx_B", [T = s.T](Kernel& k) {
                 if (isolate_movable_page(k, T, 0)) call(k, "putback_isolated", {T});
               }};
  const Explored e = explore(s.k, 4, {ctx_a_isolate(s), entry_task(3, "zs_free", {s.pool, s.h}), b, ctx_a_putback(s)},
                             1, 200000, [&](Kernel& k, const RunResult& r) {
                               if (!r.ok()) return;
                               EXPECT_EQ(k.stats[size_t(Stat::NR_FREE_PAGES)], free_before + 3);
                             });
  EXPECT_TRUE(e.stats.exhausted) << keys_str(e);
  EXPECT_EQ(e.keys.size(), 1u) << keys_str(e);
  EXPECT_EQ(e.keys.count("ok"), 1u) << keys_str(e);
}

// ---- the v3 alloc_zspage / zs_page_isolate race ----

namespace {

// The pages zs_malloc(size) would allocate next (the allocator is deterministic).
std::vector<Pfn> next_zspage_pages(const Kernel& k, uint32_t pool, int64_t size) {
  Kernel copy = k;
  const int64_t h = call(copy, "zs_malloc", {pool, size});
  return pages_of(copy, pool, h);
}

}  // namespace

TEST(ZsAllocRace, MovableV3IsolatesAZspageStillBeingBuiltAndBugsInRemoveZspage) {
  Kernel k = make_kernel("movable-v3");
  const uint32_t pool = uint32_t(call(k, "zs_create_pool"));
  const auto pages = next_zspage_pages(k, pool, 3000);
  ASSERT_EQ(pages.size(), 3u);
  // v3 marks each page movable in init_zspage (15/16): compaction isolates one before
  // zs_malloc has recorded the zspage's class and fullness. v3's metadata then reads 0:
  // class 0, ZS_ALMOST_FULL, and zs_page_isolate removes the zspage from class 0's empty
  // list (Chulmin Kim, 19 Apr 2016: "VM_BUG_ON during remove_zspage()"). The first page
  // is movable (and unlocked) first.
  const RunResult r = run_script(k, 3, {after(1, "unlock_page"), done(2), done(1)},
                                 {entry_task(1, "zs_malloc", {pool, 3000}), entry_task(2, "compact_page", {pages[0]})});
  const Outcome* o = find(r, "bug:remove_zspage");
  ASSERT_NE(o, nullptr) << outcomes_str(r);
  EXPECT_EQ(o->task_name, "compact_page");
  EXPECT_NE(o->message.find("fullness_list"), std::string::npos) << o->report();
  EXPECT_EQ(o->backtrace[0], "zs_page_isolate");
}

TEST(ZsAllocRace, V48MarksPagesMovableOnlyOnceTheZspageIsListedEveryInterleavingIsClean) {
  Kernel init = make_kernel("v4.8");
  const uint32_t pool = uint32_t(call(init, "zs_create_pool"));
  const auto pages = next_zspage_pages(init, pool, 3000);
  const Job iso{2, "isolate", [T = pages[1]](Kernel& k) {
                   if (isolate_movable_page(k, T, 0)) call(k, "putback_isolated", {T});
                 }};
  const Explored e = explore(init, 3, {entry_task(1, "zs_malloc", {pool, 3000}), iso}, 2, 400000);
  EXPECT_TRUE(e.stats.exhausted) << keys_str(e);
  EXPECT_EQ(e.keys.size(), 1u) << keys_str(e);
  EXPECT_EQ(e.keys.count("ok"), 1u) << keys_str(e);
}

TEST(ZsAllocRace, MovableV3HasABadInterleavingThatDfsFinds) {
  Kernel init = make_kernel("movable-v3");
  const uint32_t pool = uint32_t(call(init, "zs_create_pool"));
  const auto pages = next_zspage_pages(init, pool, 3000);
  const Job iso{2, "isolate", [T = pages[1]](Kernel& k) {
                   if (isolate_movable_page(k, T, 0)) call(k, "putback_isolated", {T});
                 }};
  const Explored e = explore(init, 3, {entry_task(1, "zs_malloc", {pool, 3000}), iso}, 1, 100000);
  EXPECT_GE(e.keys.count("bug:remove_zspage"), 1u) << keys_str(e);
}

// zs_compact takes each class's lock in turn, as __zs_compact does in 4.8
// (mm/zsmalloc.c:2308-2322), including classes with nothing to compact: those are points
// where another CPU's list changes interleave, and what dpor sees as conflicts. (The model
// once looked at every class's lists in one lockless step and skipped the classes without
// a source: the breakpoint below never matched; issue 12, C6.)
TEST(ZsCompact, CompactionTakesEveryClassLockAndSeesClassesChangedMeanwhile) {
  Kernel k = make_kernel();
  SmallObjects s = small_objects(k, 8, 1000);  // class 1024: Z1, Z2 full (4 objects each)
  call(k, "zs_malloc", {s.pool, 2000});        // a larger class, compacted first
  const SizeClass& empty = class_for(k, s.pool, 1500);  // between the two, no zspage
  ASSERT_GT(class_for(k, s.pool, 2000).index, empty.index);
  ASSERT_GT(empty.index, class_for(k, s.pool, 1000).index);
  std::vector<Job> tasks = {entry_task(1, "zs_compact", {s.pool})};
  for (size_t i : {1, 2, 5, 6}) tasks.push_back(entry_task(2, "zs_free", {s.pool, s.h[i]}));
  // Compaction is about to take the empty class's lock; the process frees two objects of
  // each zspage of class 1024; compaction goes on down to class 1024.
  auto status = std::make_shared<std::vector<ScriptStepStatus>>();
  const RunResult r = run_tasks(
      k, 3,
      std::make_unique<ScriptStrategy>(
          std::vector<ScriptStep>{before(1, "__zs_compact", empty.lock.id), done(2), done(1)},
          std::make_unique<RandomStrategy>(1), status),
      tasks);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_TRUE((*status)[0].matched);
  EXPECT_EQ(k.zsmalloc.pools[s.pool].pages_compacted, 1u);  // Z1's two objects moved to Z2
  EXPECT_EQ(nr_zspages(k), 2);                               // Z2 and the larger class's
  for (size_t i : {0, 3, 4, 7}) EXPECT_EQ(call(k, "zs_read", {s.pool, s.h[i]}), int64_t(1000 + i));
}

// ---- c102f07ca0b0: zs_compact's record_obj must keep the pin bit ----

namespace {

// Class 1024 (4 objects a zspage, one page each). Z1 = {h, x}, Z2 = {y}: zs_compact's
// source is Z1 (the ALMOST_EMPTY head, higher inuse), its destination Z2, so h moves
// into Z2's page P first.
struct PinRace {
  Kernel k;
  uint32_t pool;
  int64_t h, x, y;
  Pfn P;
};

PinRace pin_race(bool fixed) {
  PinRace s{make_kernel("v4.8", {{"c102f07ca0b0", fixed}}), 0, 0, 0, 0, 0};
  Kernel& k = s.k;
  s.pool = uint32_t(call(k, "zs_create_pool"));
  s.h = call(k, "zs_malloc", {s.pool, 1000});
  s.x = call(k, "zs_malloc", {s.pool, 1000});
  const int64_t f1 = call(k, "zs_malloc", {s.pool, 1000});
  const int64_t f2 = call(k, "zs_malloc", {s.pool, 1000});
  s.y = call(k, "zs_malloc", {s.pool, 1000});
  const int64_t f3 = call(k, "zs_malloc", {s.pool, 1000});
  const int64_t f4 = call(k, "zs_malloc", {s.pool, 1000});
  const int64_t f5 = call(k, "zs_malloc", {s.pool, 1000});
  for (int64_t f : {f3, f4, f5, f1, f2}) call(k, "zs_free", {s.pool, f});
  call(k, "zs_write", {s.pool, s.h, 1});
  call(k, "zs_write", {s.pool, s.x, 2});
  call(k, "zs_write", {s.pool, s.y, 3});
  s.P = pages_of(k, s.pool, s.y)[0];
  return s;
}

// compaction (CPU 1) has recorded h's new location in P; the process (CPU 2) frees h and
// has read *handle; compaction finishes; a migration (CPU 3) moves P; the free goes on.
RunResult pin_race_run(PinRace& s) {
  const ObjId handle = zs_handle_obj(s.pool, uint64_t(s.h));
  return run_script(s.k, 4, {after(1, "record_obj", handle), after(2, "handle_to_obj", handle), done(1), done(3), done(2)},
                    {entry_task(1, "zs_compact", {s.pool}), entry_task(2, "zs_free", {s.pool, s.h}),
                     entry_task(3, "compact_page", {s.P})});
}

}  // namespace

TEST(ZsPinBit, WithoutC102f07ca0b0CompactionUnpinsZsFreesPinAndZsFreeUsesAFreedPage) {
  PinRace s = pin_race(false);
  const RunResult r = pin_race_run(s);
  // record_obj dropped the pin bit; zs_free pinned h and read its obj (in P); compaction's
  // unpin_tag then cleared zs_free's pin; the migration could pin h, moved P and freed
  // it; zs_free follows its stale obj to P, whose page->private is gone.
  const Outcome* o = find(r, "oops:zs_free");
  ASSERT_NE(o, nullptr) << outcomes_str(r);
  EXPECT_NE(o->message.find("NULL pointer dereference"), std::string::npos) << o->report();
  EXPECT_EQ(o->task_name, "zs_free");
  EXPECT_EQ(entered(r, "zs_page_migrate"), 1);  // the migration did not see zs_free's pin
}

TEST(ZsPinBit, WithC102f07ca0b0TheSameScheduleIsClean) {
  PinRace s = pin_race(true);
  const uint32_t pool = s.pool;
  const RunResult r = pin_race_run(s);
  EXPECT_TRUE(r.ok()) << outcomes_str(r);
  EXPECT_EQ(call(s.k, "zs_read", {pool, s.x}), 2);
  EXPECT_EQ(call(s.k, "zs_read", {pool, s.y}), 3);
  EXPECT_FALSE(zs_handle_valid(s.k, pool, uint64_t(s.h)));
}

TEST(ZsPinBit, WithC102f07ca0b0EveryInterleavingOfCompactionAndZsFreeIsClean) {
  PinRace s = pin_race(true);
  const Explored e = explore(s.k, 2, {entry_task(0, "zs_compact", {s.pool}), entry_task(1, "zs_free", {s.pool, s.h})}, 2,
                             400000, [&](Kernel& k, const RunResult& r) {
                               if (!r.ok()) return;
                               EXPECT_EQ(zs_peek(k, s.pool, uint64_t(s.x)), 2u);
                               EXPECT_EQ(zs_peek(k, s.pool, uint64_t(s.y)), 3u);
                             });
  EXPECT_TRUE(e.stats.exhausted) << keys_str(e);
  EXPECT_EQ(e.keys.size(), 1u) << keys_str(e);
  EXPECT_EQ(e.keys.count("ok"), 1u) << keys_str(e);
}
