// Entry points of zsmalloc (see kernel/entry.h), and the two VM helpers that finish what
// the isolate_movable_page entry started (putback_isolated, migrate_isolated).
#include <limits>

#include "kernel/entry.h"
#include "mm/migrate.h"
#include "mm/page_ops.h"
#include "mm/vmstat.h"

namespace pagesim::kernel {
namespace {

using Args = std::span<const int64_t>;

// zs_malloc's default gfp: zram's slow path (GFP_NOIO | __GFP_HIGHMEM | __GFP_MOVABLE).
constexpr mm::gfp_t kZsDefaultGfp = mm::GFP_NOIO | mm::__GFP_HIGHMEM | mm::__GFP_MOVABLE;

uint32_t pool_arg(const Kernel& k, int64_t v) {
  const auto& pools = k.zsmalloc.pools;
  if (v < 0 || uint64_t(v) >= pools.size())
    throw UsageError("no zsmalloc pool " + std::to_string(v) + " (" + std::to_string(pools.size()) +
                     " pool(s) created; zs_create_pool makes one)");
  if (!pools[size_t(v)].live) throw UsageError("zsmalloc pool " + std::to_string(v) + " was destroyed");
  return uint32_t(v);
}

uint64_t handle_arg(const Kernel& k, uint32_t pool, int64_t v) {
  const auto& handles = k.zsmalloc.pools[pool].handles;
  if (v <= 0 || uint64_t(v) > handles.size())
    throw UsageError("handle " + std::to_string(v) + " was never returned by zs_malloc on pool " +
                     std::to_string(pool));
  if (!handles[size_t(v - 1)].allocated)
    throw UsageError("handle " + std::to_string(v) + " of pool " + std::to_string(pool) +
                     " is freed (zs_free was called on it)");
  return uint64_t(v);
}

size_t size_arg(int64_t v) {
  if (v <= 0 || v > int64_t(drivers::zs::ZS_MAX_ALLOC_SIZE))
    throw UsageError("zs_malloc size must be 1.." + std::to_string(drivers::zs::ZS_MAX_ALLOC_SIZE) +
                     " bytes, got " + std::to_string(v));
  return size_t(v);
}

uint32_t token_arg(int64_t v) { return u32_arg("a content token", v); }

// A page an isolate_movable_page entry isolated: it holds the isolation reference.
mm::Pfn isolated_arg(const Kernel& k, int64_t v) {
  const mm::Pfn p = pfn_arg(k, v);
  if (k.page(p).refcount <= 0)
    throw UsageError("pfn " + std::to_string(p) + " is free: no isolation reference to drop");
  if (k.page(p).list != mm::kNoList && k.page(p).list != mm::kPoisonList)
    throw UsageError("pfn " + std::to_string(p) + " is on list " + k.lists[k.page(p).list].name() +
                     ", not isolated by the isolate_movable_page entry");
  return p;
}

// cc->migratepages of a page the isolate_movable_page entry isolated: a private list with
// the page on it, counted as compaction's acct_isolated would have counted it.
uint32_t isolated_list(Kernel& k, mm::Pfn page) {
  const uint32_t list = k.get_private_list("migratepages");
  mm::list_add(k, page, list);
  // acct_isolated, as compaction accounts what it isolated before 6afcf8ef0ca0.
  if (!k.cfg.has(Fix::NrIsolatedLruOnly)) mm::inc_node_page_state(k, mm::nr_isolated_stat(k, page));
  return list;
}

// new_page_t of migrate_isolated: any free page of the zone.
mm::Pfn alloc_migrate_target(mm::Mm& mm, mm::Pfn, uint64_t) {
  return mm::alloc_pages(mm, mm::GFP_HIGHUSER_MOVABLE, 0, mm::Owner::Migration);
}

}  // namespace

std::vector<EntryPoint> zsmalloc_entries() {
  return {
      {"zs_create_pool", "", "zs_create_pool(): a new zsmalloc pool; returns its id",
       [](Kernel& k, Args) -> int64_t {
         return drivers::zs_create_pool(k, "zs" + std::to_string(k.zsmalloc.pools.size()));
       }},
      {"zs_destroy_pool", "pool",
       "zs_destroy_pool(pool): flushes the deferred free; zspages still in use leak",
       [](Kernel& k, Args a) -> int64_t {
         drivers::zs_destroy_pool(k, pool_arg(k, a[0]));
         return 0;
       }},
      {"zs_malloc", "pool, size",
       "zs_malloc(pool, size, GFP_NOIO|__GFP_HIGHMEM|__GFP_MOVABLE): a handle, or 0",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         return int64_t(drivers::zs_malloc(k, p, size_arg(a[1]), kZsDefaultGfp));
       }},
      {"zs_malloc_gfp", "pool, size, gfp",
       "zs_malloc(pool, size, gfp): a handle, or 0; refused before zs-malloc-gfp (4.7), when "
       "zs_malloc took no gfp",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         if (!k.cfg.has(Fix::ZsMallocGfp))
           throw UsageError("zs_malloc_gfp: " + k.preset_name() +
                            "'s zs_malloc takes no gfp (it came with zs-malloc-gfp, 4.7): it "
                            "allocates with the pool's GFP_NOIO | __GFP_HIGHMEM");
         return int64_t(drivers::zs_malloc(k, p, size_arg(a[1]), gfp_arg(a[2])));
       }},
      {"zs_free", "pool, handle", "zs_free(pool, handle)",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         drivers::zs_free(k, p, handle_arg(k, p, a[1]));
         return 0;
       }},
      {"zs_write", "pool, handle, token",
       "zs_map_object(ZS_MM_WO), store the content token, zs_unmap_object",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         const uint64_t h = handle_arg(k, p, a[1]);
         drivers::zs_write_object(k, p, h, token_arg(a[2]));
         return 0;
       }},
      {"zs_read", "pool, handle",
       "zs_map_object(ZS_MM_RO), read the content token, zs_unmap_object; a token other than "
       "the last one written is reported as data corruption",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         const uint64_t h = handle_arg(k, p, a[1]);
         const uint32_t got = drivers::zs_read_object(k, p, h);
         const uint32_t want = k.zsmalloc.pools[p].handles[h - 1].written;
         if (got != want)
           REPORT_CORRUPTION("zs_map_object", "pool " + std::to_string(p) + " handle " + std::to_string(h) +
                                                  " read back content " + std::to_string(got) + ", " +
                                                  std::to_string(want) + " was written");
         return got;
       }},
      {"zs_compact", "pool",
       "zs_compact(pool), returning what it returns: the pages this call freed (since "
       "239592815805, 5.12), before it the pool's total pool->stats.pages_compacted",
       [](Kernel& k, Args a) -> int64_t {
         return int64_t(drivers::zs_compact(k, pool_arg(k, a[0])));
       }},
      {"zs_shrinker_scan", "pool",
       "the pool's shrinker (zs_shrinker_scan): zs_compact, and the pages it reports freed",
       [](Kernel& k, Args a) -> int64_t {
         return int64_t(drivers::zs_shrinker_scan(k, pool_arg(k, a[0])));
       }},
      {"zs_page_of", "pool, handle, i",
       "the pfn of the i-th page of the zspage holding the handle's object, or -1 (set-up helper)",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         const uint64_t h = handle_arg(k, p, a[1]);
         const auto pages = drivers::zs_pages_of(k, p, h);
         return a[2] >= 0 && uint64_t(a[2]) < pages.size() ? int64_t(pages[size_t(a[2])]) : -1;
       }},
      {"putback_isolated", "pfn",
       "put back a page the isolate_movable_page entry isolated, as compaction puts back what "
       "it did not migrate: putback_movable_pages on a list of that page",
       [](Kernel& k, Args a) -> int64_t {
         MODEL_FUNC("putback_isolated");
         const uint32_t list = isolated_list(k, isolated_arg(k, a[0]));
         mm::putback_movable_pages(k, list);
         k.put_private_list(list);
         return 0;
       }},
      {"migrate_isolated", "pfn",
       "migrate a page the isolate_movable_page entry isolated (migrate_pages, MIGRATE_SYNC, to "
       "any free page); returns migrate_pages' result: 0, pages not migrated, or -ENOMEM",
       [](Kernel& k, Args a) -> int64_t {
         MODEL_FUNC("migrate_isolated");
         const uint32_t list = isolated_list(k, isolated_arg(k, a[0]));
         const int rc = mm::migrate_pages(k, list, alloc_migrate_target, nullptr, 0,
                                          mm::MigrateMode::Sync, mm::MigrateReason::Compaction);
         if (!mm::list_empty(k, list)) mm::putback_movable_pages(k, list);
         k.put_private_list(list);
         return rc;
       }},
  };
}

}  // namespace pagesim::kernel
