// zsmalloc (mm/zsmalloc.c, Linux 4.8, "zsmalloc: page migration support" 48b4800a1c6a):
// pools of size classes, zspages of 1..4 order-0 pages, handles with a pin bit, fullness
// groups, deferred free, zs_compact, and the non-LRU movable page callbacks
// (zs_page_isolate / zs_page_migrate / zs_page_putback). The v3 series of April 2016
// (preset movable-v3) runs v3's own functions where v3 differed (the `v3` branches, each
// behind the fix of mm/fixes.h that v4 made; docs/kernel/movable-v3.md).
//
// Model layout (ids instead of pointers, so the world can be copied):
//  * page->private_ is the zspage id (0: NULL); page->index is the next page of the
//    chain as pfn + 1 (0: NULL), or, on a huge-object page, the object header.
//  * A handle is an index + 1 into the pool's handle table; *handle is `word`, holding
//    obj = ((pfn << OBJ_INDEX_BITS | obj_idx) << OBJ_TAG_BITS) and HANDLE_PIN_BIT (bit 0).
//  * Object memory lives with the page that holds the object's start (memory(pfn)): its
//    header (handle << OBJ_TAG_BITS | OBJ_ALLOCATED_TAG, or the free-list link) and a
//    content token. zs_page_migrate copies the page's memory, zs_compact copies one
//    object, so data lost by either is seen by a later read.
// Containers whose elements are locked across scheduling points are deques: another
// task may add elements while a task spins on a lock inside one.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/dirty_array.h"
#include "engine/kasan.h"
#include "engine/sync.h"
#include "mm/mm.h"
#include "mm/page_alloc.h"

namespace pagesim::mm {
struct PageCensus;
}  // namespace pagesim::mm

namespace pagesim::drivers {

class Drivers;

namespace zs {
inline constexpr uint32_t PAGE_SHIFT = 12;
inline constexpr uint32_t PAGE_SIZE = 1u << PAGE_SHIFT;
inline constexpr uint32_t ZS_MAX_ZSPAGE_ORDER = 2;
inline constexpr uint32_t ZS_MAX_PAGES_PER_ZSPAGE = 1u << ZS_MAX_ZSPAGE_ORDER;
inline constexpr uint32_t CONFIG_ZSMALLOC_CHAIN_SIZE = 8;  // b46402fa894f's default
inline constexpr uint32_t ZS_HANDLE_SIZE = 8;  // sizeof(unsigned long)
inline constexpr uint32_t ZS_ALIGN = 8;
inline constexpr uint32_t ZS_MIN_ALLOC_SIZE = 32;
inline constexpr uint32_t ZS_MAX_ALLOC_SIZE = PAGE_SIZE;
inline constexpr uint32_t CLASS_BITS = 8;
inline constexpr uint32_t ZS_SIZE_CLASS_DELTA = PAGE_SIZE >> CLASS_BITS;  // 16 bytes
// init_zs_size_classes(): 255 size classes on 4K pages.
inline constexpr uint32_t ZS_SIZE_CLASSES =
    (ZS_MAX_ALLOC_SIZE - ZS_MIN_ALLOC_SIZE) / ZS_SIZE_CLASS_DELTA + 1 +
    ((ZS_MAX_ALLOC_SIZE - ZS_MIN_ALLOC_SIZE) % ZS_SIZE_CLASS_DELTA ? 1 : 0);
inline constexpr int HANDLE_PIN_BIT = 0;
inline constexpr uint64_t OBJ_ALLOCATED_TAG = 1;
inline constexpr uint32_t OBJ_TAG_BITS = 1;
inline constexpr uint32_t OBJ_INDEX_BITS = 11;  // BITS_PER_LONG - _PFN_BITS - OBJ_TAG_BITS
inline constexpr uint64_t OBJ_INDEX_MASK = (uint64_t(1) << OBJ_INDEX_BITS) - 1;
inline constexpr uint8_t ZSPAGE_MAGIC = 0x58;
inline constexpr uint32_t fullness_threshold_frac = 4;
// link->next of the last free object: -1 << OBJ_TAG_BITS.
inline constexpr uint64_t kFreeListEnd = ~uint64_t(0) << OBJ_TAG_BITS;
}  // namespace zs

enum fullness_group : uint8_t { ZS_EMPTY, ZS_ALMOST_EMPTY, ZS_ALMOST_FULL, ZS_FULL, NR_ZS_FULLNESS };
// 4c7ac97285d8 (6.4): groups by the ratio of objects in use, 0, (0, 10%], ..., (90%, 100%)
// as 99, and 100; ZS_INUSE_RATIO_0 is ZS_EMPTY.
inline constexpr int ZS_INUSE_RATIO_0 = 0;
inline constexpr int ZS_INUSE_RATIO_10 = 1;
inline constexpr int ZS_INUSE_RATIO_99 = 10;
inline constexpr int ZS_INUSE_RATIO_100 = 11;
inline constexpr int NR_FULLNESS_GROUPS = 12;
// "almost_empty", or with ratio groups "inuse_ratio_10".
std::string fullness_name(int fg, bool ratio_groups);

// class->stats.objs[]: one count per fullness group, then the objects (6.4's order).
enum zs_stat_type : uint8_t { OBJ_ALLOCATED = NR_FULLNESS_GROUPS, OBJ_USED, NR_ZS_STAT_TYPE };

enum class zs_mapmode : uint8_t { ZS_MM_RW, ZS_MM_RO, ZS_MM_WO };

// Object classes of zsmalloc (objclass::kZsmallocBase + n).
namespace zsobj {
inline constexpr uint8_t kZspage = objclass::kZsmallocBase + 0;     // zspage fields, zspage->lock
inline constexpr uint8_t kHandle = objclass::kZsmallocBase + 1;     // *handle (pin bit)
inline constexpr uint8_t kClassLock = objclass::kZsmallocBase + 2;  // class->lock
inline constexpr uint8_t kPool = objclass::kZsmallocBase + 3;       // pool counters
inline constexpr uint8_t kMigrationWait = objclass::kZsmallocBase + 4;  // pool->migration_wait
inline constexpr uint8_t kPoolStats = objclass::kZsmallocBase + 5;  // the pool->stats word
inline constexpr uint8_t kPoolMigrateLock = objclass::kZsmallocBase + 6;  // pool->migrate_lock
inline constexpr uint8_t kPoolLock = objclass::kZsmallocBase + 7;  // pool->lock (c0547d0b6a4b)
}  // namespace zsobj
inline ObjId zspage_obj(uint32_t id) { return make_obj(zsobj::kZspage, id); }
inline ObjId zs_handle_obj(uint32_t pool, uint64_t handle) {
  return make_obj(zsobj::kHandle, (uint64_t(pool) << 32) | handle);
}
inline ObjId zs_class_obj(uint32_t pool, uint32_t index) {
  return make_obj(zsobj::kClassLock, (uint64_t(pool) << 16) | index);
}

// One object of a page: struct link_free (the header) and the object's data.
struct ZsObjSlot {
  uint64_t head = zs::kFreeListEnd;  // free: next << OBJ_TAG_BITS; allocated: handle header
  uint32_t content = 0;              // the data the user wrote (a content token)
};

// zspage->list: which list the zspage is linked on.
inline constexpr int8_t kZsNoList = -1;     // list_empty(&zspage->list)
inline constexpr int8_t kZsLocalList = -2;  // async_free_zspage's private free_pages list
inline constexpr int8_t kZsPoisoned = -3;   // after list_del (LIST_POISON)
inline constexpr int8_t kZsZeroed = -4;     // memset to 0 by alloc_zspage: not an empty list

// struct zspage (a kmem_cache object, addressed by id; 0 is NULL).
struct Zspage {
  uint8_t fullness = ZS_EMPTY;  // fullness:FULLNESS_BITS
  uint8_t isolated = 0;         // isolated:ISOLATED_BITS, sub-pages isolated for migration
  uint8_t magic = 0;            // ZSPAGE_MAGIC while allocated
  uint16_t class_idx = 0;       // class:CLASS_BITS (the class's index)
  uint32_t inuse = 0;           // allocated objects (class->lock)
  uint64_t freeobj = 0;         // first free object index
  mm::Pfn first_page = mm::kNoPfn;
  int8_t list = kZsNoList;      // zspage->list: a fullness group, or kZs* above
  bool huge = false;            // huge:HUGE_BITS (a41ec880aa7b; before, PG_owner_priv_1)
  bool allocated = false;       // model: the kmem_cache object is in use
  uint32_t pool = 0;            // model: the owner (for checks and views)
  RwLock lock;                  // the migrate lock
  KasanObject life;             // kmem_cache_alloc'ed by alloc_zspage, freed by __free_zspage
};

// class->fullness_list[NR_FULLNESS_GROUPS]: each group's zspage ids, list head first. The
// groups share one vector, group after group: the world is copied for every execution,
// and a class whose lists are all empty (most are) then copies one empty vector.
class FullnessLists {
 public:
  std::span<const uint32_t> operator[](size_t fg) const {
    return {ids_.data() + start_[fg], ids_.data() + start_[fg + 1]};
  }
  bool empty(size_t fg) const { return start_[fg] == start_[fg + 1]; }
  uint32_t front(size_t fg) const { return ids_[start_[fg]]; }
  bool all_empty() const { return ids_.empty(); }
  std::vector<uint32_t> list(size_t fg) const {
    const auto l = (*this)[fg];
    return {l.begin(), l.end()};
  }
  // The id at position `pos` of group fg's list (0: list_add at the head).
  void insert(size_t fg, size_t pos, uint32_t id) {
    ids_.insert(ids_.begin() + std::ptrdiff_t(start_[fg] + pos), id);
    shift_after(fg, 1);
  }
  // list_del of an id on group fg's list.
  void erase(size_t fg, uint32_t id) {
    const auto end = ids_.begin() + std::ptrdiff_t(start_[fg + 1]);
    ids_.erase(std::find(ids_.begin() + std::ptrdiff_t(start_[fg]), end, id));
    shift_after(fg, -1);
  }
  // list_splice_init: group fg's ids, its list left empty.
  std::vector<uint32_t> take(size_t fg) {
    std::vector<uint32_t> out = list(fg);
    ids_.erase(ids_.begin() + std::ptrdiff_t(start_[fg]), ids_.begin() + std::ptrdiff_t(start_[fg + 1]));
    shift_after(fg, -std::ptrdiff_t(out.size()));
    return out;
  }

 private:
  // The groups after fg start `by` ids later (earlier when negative).
  void shift_after(size_t fg, std::ptrdiff_t by) {
    for (size_t g = fg + 1; g < start_.size(); ++g) start_[g] = uint32_t(std::ptrdiff_t(start_[g]) + by);
  }

  std::vector<uint32_t> ids_;
  std::array<uint32_t, NR_FULLNESS_GROUPS + 1> start_{};  // group fg is [start_[fg], start_[fg + 1])
};

struct SizeClass {
  SpinLock lock;  // class->lock; since c0547d0b6a4b the pool's lock is used (class_lock())
  FullnessLists fullness_list;
  uint32_t size = 0;
  uint32_t objs_per_zspage = 0;
  uint32_t pages_per_zspage = 0;
  uint32_t index = 0;
  uint32_t pool = 0;  // model: the pool it belongs to
  std::array<uint32_t, NR_ZS_STAT_TYPE> stats{};  // class->stats.objs[]: 32 bits hold them, and copy faster
};

// A handle (cache_alloc_handle's object) and the model's record of what was written.
struct ZsHandle {
  uint64_t word = 0;       // *handle: obj | pin bit
  bool allocated = false;  // between cache_alloc_handle and cache_free_handle
  uint32_t written = 0;    // model: the content last written through zs_map_object (WO/RW)
  KasanObject life;        // the zs_handle cache's object
};

struct ZsClassTable;

// pool->flags before zs-malloc-gfp (4.7): what zram passed zs_create_pool, the one caller
// the model has.
inline constexpr mm::gfp_t kZsPoolFlags = mm::GFP_NOIO | mm::__GFP_HIGHMEM;

struct ZsPool {
  std::string name;
  bool live = false;
  const ZsClassTable* table = nullptr;  // the size classes (by the chain size fixes)
  KasanObject life;        // kmalloc'ed by zs_create_pool, kfree'd by zs_destroy_pool
  uint32_t mapping = 0;    // pool->inode->i_mapping (a_ops = zsmalloc_aops)
  uint32_t free_work = 0;  // pool->free_work (async_free_zspage)
  DirtyArray<SizeClass> classes;   // the distinct classes, by ascending index
  std::deque<ZsHandle> handles;    // handle h is handles[h - 1]; KASAN's quarantine: never reused
  int64_t pages_allocated = 0;
  uint64_t pages_compacted = 0;    // pool->stats.pages_compacted
  uint64_t compaction_freed = 0;   // model: the pages compaction freed (checks it against the stat)
  // 701d678599d0: zspages isolated for migration, and zs_destroy_pool under way.
  RwLock migrate_lock;             // pool->migrate_lock (b475d42d2c43)
  SpinLock lock;                   // pool->lock (c0547d0b6a4b): every class's lock since 6.2
  int32_t compaction_in_progress = 0;  // atomic_t (d2658f2052c7)
  int64_t isolated_pages = 0;      // atomic_long_t
  bool destroying = false;
  uint32_t shrinker = ~0u;         // pool->shrinker's id (mm/shrinker.h), while registered
};

struct Zsmalloc {
  std::deque<ZsPool> pools;
  uint32_t nr_pools = 0;  // pools.size(), which a deque of large elements computes slowly
  std::deque<Zspage> zspages;  // [0] unused: zspage id 0 is NULL
  std::vector<uint32_t> free_zspages;
  uint32_t mops_mapping = 0;  // the mapping standing for &zsmalloc_mops (68f2736a8583)
  // Object memory of the pages that have held objects: mem[mem_of[pfn] - 1] (0: none
  // yet). A page keeps its entry; pages that never held objects cost nothing to copy.
  std::vector<uint32_t> mem_of;
  std::deque<std::vector<ZsObjSlot>> mem;
  // The object memory of a page; nullptr if it never held objects.
  const std::vector<ZsObjSlot>* memory(mm::Pfn pfn) const {
    return pfn < mem_of.size() && mem_of[pfn] ? &mem[mem_of[pfn] - 1] : nullptr;
  }
  std::vector<ZsObjSlot>* memory(mm::Pfn pfn) {
    return const_cast<std::vector<ZsObjSlot>*>(std::as_const(*this).memory(pfn));
  }
};

// ---- the zsmalloc API (include/linux/zsmalloc.h) ----
uint32_t zs_create_pool(mm::Mm& mm, std::string name);
void zs_destroy_pool(mm::Mm& mm, uint32_t pool);
// Returns the handle, or 0 (bad size, or no memory for a new zspage).
uint64_t zs_malloc(mm::Mm& mm, uint32_t pool, size_t size, mm::gfp_t gfp);
void zs_free(mm::Mm& mm, uint32_t pool, uint64_t handle);
// Where a mapped object lives: the page holding its start and the slot in its memory.
struct ZsObjRef {
  mm::Pfn page = mm::kNoPfn;
  uint32_t slot = 0;
};
ZsObjRef zs_map_object(mm::Mm& mm, uint32_t pool, uint64_t handle, zs_mapmode mode);
void zs_unmap_object(mm::Mm& mm, uint32_t pool, uint64_t handle);
// map + write the content token + unmap (ZS_MM_WO); map + read + unmap (ZS_MM_RO).
void zs_write_object(mm::Mm& mm, uint32_t pool, uint64_t handle, uint32_t content);
uint32_t zs_read_object(mm::Mm& mm, uint32_t pool, uint64_t handle);
// Returns pool->stats.pages_compacted after the compaction (as the kernel did before
// 239592815805), or the pages this call freed (after it).
uint64_t zs_compact(mm::Mm& mm, uint32_t pool);
// zs_shrinker_count: the pages compaction could free in the pool, read without the class
// locks.
uint64_t zs_shrinker_count(mm::Mm& mm, uint32_t pool);
// zs_shrinker_scan: the pool's shrinker compacts it and reports the pages it freed
// (before 239592815805, as the growth of pool->stats.pages_compacted meanwhile, which
// counts a concurrent compaction's pages too; SHRINK_STOP is 0 here).
uint64_t zs_shrinker_scan(mm::Mm& mm, uint32_t pool);
uint64_t zs_get_total_pages(const mm::Mm& mm, uint32_t pool);

// address_space_operations of the pool's inode (zsmalloc_aops).
bool zs_page_isolate(mm::Mm& mm, mm::Pfn page, mm::isolate_mode_t mode);
int zs_page_migrate(mm::Mm& mm, uint32_t mapping, mm::Pfn newpage, mm::Pfn page,
                    mm::MigrateMode mode);
void zs_page_putback(mm::Mm& mm, mm::Pfn page);
extern const mm::AddressSpaceOps zsmalloc_aops;

// ---- views and checks (no scheduling points) ----
// zs_huge_class_size (4.17): a request of at least this many bytes lands in a huge class
// (one object on one page): the largest class of more pages or objects, less
// ZS_HANDLE_SIZE - 1, which zs_malloc adds.
size_t zs_huge_class_size(const Drivers& d, uint32_t pool);
// The size class a request of `size` bytes uses (size + ZS_HANDLE_SIZE), as an index
// into ZsPool::classes.
uint32_t zs_class_slot(const ZsPool& p, size_t size);
// The pages of the zspage holding the handle's object, first page first (empty if the
// handle does not resolve to a live zspage).
std::vector<mm::Pfn> zs_pages_of(const Drivers& d, uint32_t pool, uint64_t handle);
// The zspage id a handle's object lives in (0 if none).
uint32_t zs_zspage_of(const Drivers& d, uint32_t pool, uint64_t handle);
// The content token of the handle's object as stored in memory (without pinning).
uint32_t zs_peek(const Drivers& d, uint32_t pool, uint64_t handle);
bool zs_handle_valid(const Drivers& d, uint32_t pool, uint64_t handle);
// Invariants of every pool: no object lost (each live handle resolves to an allocated
// object whose header names it and whose content is what was written), inuse counts
// match the allocated objects, zspages sit on the list of their fullness unless
// isolated, page state of each sub-page, and every Owner::Zsmalloc page belongs to a
// live zspage (no page leaked). `settled`: every task is done, so nothing may be
// isolated, locked or pinned and no empty zspage may wait for the free worker (unless
// the work is still queued, as after set-up calls). With settled = false, isolated
// sub-pages are allowed (between set-up calls that isolate pages); it is not meant for
// states in the middle of a zsmalloc operation. `census`: the teardown's census of
// mem_map, to look for leaked pages among its pages only (null: every page).
std::vector<std::string> zsmalloc_check(const Drivers& d, bool settled = true,
                                        const mm::PageCensus* census = nullptr);

}  // namespace pagesim::drivers
