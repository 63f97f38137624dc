// Entry points of z3fold (see kernel/entry.h). z3fold came with Linux 4.8: the entries
// refuse a kernel whose preset does not descend from v4.8.
#include "kernel/entry.h"

namespace pagesim::kernel {
namespace {

using Args = std::span<const int64_t>;

// zswap_frontswap_store's gfp, the one in-tree z3fold user of 5.15: it may not sleep.
constexpr mm::gfp_t kZswapGfp = mm::__GFP_NORETRY | mm::__GFP_NOWARN | mm::__GFP_KSWAPD_RECLAIM;

void check_kernel(const Kernel& k) {
  if (descends_from(k.preset_name(), "v4.8")) return;  // v4.9 to v6.6 among them
  throw UsageError("z3fold came with Linux 4.8 (9a001fc19ccc, preset v4.8); " + k.preset_name() +
                   " is older");
}

uint32_t pool_arg(const Kernel& k, int64_t v) {
  const auto& pools = k.z3fold.pools;
  if (v < 0 || uint64_t(v) >= pools.size())
    throw UsageError("no z3fold pool " + std::to_string(v) + " (" + std::to_string(pools.size()) +
                     " pool(s) created; z3fold_create_pool makes one)");
  if (!pools[size_t(v)].live) throw UsageError("z3fold pool " + std::to_string(v) + " was destroyed");
  return uint32_t(v);
}

// A handle z3fold_alloc returned on the pool: zswap's entry for it, which may have left
// zswap's tree since (written back or invalidated; its invalidation then finds nothing).
uint64_t entry_arg(const Kernel& k, uint32_t pool, int64_t v) {
  const auto it = k.z3fold.handles.find(uint64_t(v));
  if (v <= 0 || it == k.z3fold.handles.end() || it->second.pool != pool)
    throw UsageError("handle " + std::to_string(v) + " was never returned by z3fold_alloc on pool " +
                     std::to_string(pool));
  return uint64_t(v);
}

uint64_t handle_arg(const Kernel& k, uint32_t pool, int64_t v) {
  if (k.z3fold.handles.at(entry_arg(k, pool, v)).freed)
    throw UsageError("handle " + std::to_string(v) + " of z3fold pool " + std::to_string(pool) +
                     " is freed (z3fold_free was called on it)");
  return uint64_t(v);
}

size_t size_arg(int64_t v) {
  if (v <= 0 || v > int64_t(drivers::z3::PAGE_SIZE))
    throw UsageError("z3fold_alloc size must be 1..4096 bytes, got " + std::to_string(v));
  return size_t(v);
}

// An entry that takes a pool and one of its live handles, and returns 0.
template <void (*F)(mm::Mm&, uint32_t, uint64_t)>
int64_t on_handle(Kernel& k, Args a) {
  const uint32_t p = pool_arg(k, a[0]);
  F(k, p, handle_arg(k, p, a[1]));
  return 0;
}

int64_t alloc(Kernel& k, Args a, mm::gfp_t gfp) {
  const uint32_t p = pool_arg(k, a[0]);
  uint64_t handle = 0;
  const int rc = drivers::z3fold_alloc(k, p, size_arg(a[1]), gfp, &handle);
  if (rc) return rc;
  drivers::zswap_write_header(k, handle);
  return int64_t(handle);
}

}  // namespace

std::vector<EntryPoint> z3fold_entries() {
  return {
      {"z3fold_create_pool", "",
       "z3fold_create_pool(): a new z3fold pool (5.15 and later presets); returns its id",
       [](Kernel& k, Args) -> int64_t {
         check_kernel(k);
         return drivers::z3fold_create_pool(k, "z3fold");
       }},
      {"z3fold_destroy_pool", "pool",
       "z3fold_destroy_pool(pool): drains its workqueues and frees it (zswap does when the "
       "pool has no entries left)",
       [](Kernel& k, Args a) -> int64_t {
         drivers::z3fold_destroy_pool(k, pool_arg(k, a[0]));
         return 0;
       }},
      {"z3fold_alloc", "pool, size",
       "z3fold_alloc(pool, size) with zswap's gfp (it may not sleep): the handle, or -EINVAL, "
       "-ENOSPC or -ENOMEM",
       [](Kernel& k, Args a) -> int64_t { return alloc(k, a, kZswapGfp); }},
      {"z3fold_alloc_gfp", "pool, size, gfp", "z3fold_alloc(pool, size, gfp): as z3fold_alloc",
       [](Kernel& k, Args a) -> int64_t { return alloc(k, a, gfp_arg(a[2])); }},
      {"z3fold_free", "pool, handle", "z3fold_free(pool, handle)", on_handle<drivers::z3fold_free>},
      {"z3fold_reclaim", "pool, retries",
       "z3fold_reclaim_page(pool, retries) with zswap's evict handler (zswap_writeback_entry): "
       "until e774a7bc7f0a (6.5); returns 0, -EINVAL or -EAGAIN",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         if (k.cfg.has(Fix::Z3foldNoLru))
           throw UsageError("z3fold_reclaim: z3fold has no reclaim since e774a7bc7f0a (6.5)");
         return drivers::z3fold_reclaim_page(k, p, u32_arg("retries", a[1]));
       }},
      {"zswap_invalidate", "pool, handle",
       "zswap_frontswap_invalidate_page: the entry leaves zswap's tree and its last reference "
       "frees the handle (z3fold_free under the tree's lock); nothing if the entry left the "
       "tree already",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         drivers::zswap_invalidate(k, p, entry_arg(k, p, a[1]));
         return 0;
       }},
      {"z3fold_map", "pool, handle",
       "z3fold_map(pool, handle): the object's address (2**40 + (page << 12) + offset); it stays mapped "
       "until z3fold_unmap",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         return int64_t(drivers::z3fold_map(k, p, handle_arg(k, p, a[1])));
       }},
      {"z3fold_unmap", "pool, handle", "z3fold_unmap(pool, handle)", on_handle<drivers::z3fold_unmap>},
      {"z3fold_write", "pool, handle, token",
       "z3fold_map, store the content token at the address (zswap's store), z3fold_unmap",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         const uint64_t h = handle_arg(k, p, a[1]);
         const uint32_t token = u32_arg("a content token", a[2]);
         const uint64_t addr = drivers::z3fold_map(k, p, h);
         drivers::z3fold_write_mapped(k, p, h, addr, token);
         drivers::z3fold_unmap(k, p, h);
         return 0;
       }},
      {"z3fold_read", "pool, handle",
       "z3fold_map, read the content token at the address (zswap's load), z3fold_unmap; a token "
       "other than the last one written is reported as data corruption",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         const uint64_t h = handle_arg(k, p, a[1]);
         const uint64_t addr = drivers::z3fold_map(k, p, h);
         const uint32_t got = drivers::z3fold_read_mapped(k, addr);
         drivers::z3fold_unmap(k, p, h);
         const uint32_t want = k.z3fold.handles.at(h).written;
         if (got != want)
           REPORT_CORRUPTION("z3fold_read", "z3fold pool " + std::to_string(p) + " handle " +
                                                std::to_string(h) + " read back content " +
                                                std::to_string(got) + ", " + std::to_string(want) +
                                                " was written");
         return got;
       }},
      {"z3fold_page_of", "pool, handle", "the pfn of the page that holds the handle's object now",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t p = pool_arg(k, a[0]);
         return int64_t(drivers::z3fold_page_of(k, handle_arg(k, p, a[1])));
       }},
  };
}

}  // namespace pagesim::kernel
