// z3fold (mm/z3fold.c) as Linux 5.15.100 has it, with what changed since 4.14.0 and after
// 5.15 behind named fixes (mm/fixes.h): up to three compressed objects per page (the
// "buddies" FIRST, MIDDLE and LAST) behind a header at the page's start, handles that
// point into per-page slot arrays (struct z3fold_buddy_slots), page-layout compaction in
// a workqueue, the non-LRU movable page callbacks z3fold_page_isolate / _migrate /
// _putback (1f862989b04a, 5.2), and reclaim (z3fold_reclaim_page, until 6.5) through
// zswap's eviction handler as far as z3fold sees it.
//
// Model layout (ids instead of pointers, so the world can be copied):
//  * A page's memory is a Z3foldPageMem: the header and, by start chunk, the content
//    token of each object. KASAN poisons it when the page goes back to the buddy
//    allocator (z3fold_page_freed), and every access through a header checks it.
//  * zhdr is the page's pfn; *handle holds the header's address (page_address(): PAGE_OFFSET,
//    1 << 40, + pfn << PAGE_SHIFT) plus the buddy index, and for LAST its chunk count <<
//    BUDDY_SHIFT, as in the kernel.
//  * A handle is the address of its slot, slots id * SLOTS_ALIGN + idx * 8 (ids from 1);
//    a headless handle is the page's address | 1 << PAGE_HEADLESS. Before 7c2b8baa61fe
//    (5.2) a handle is what a slot holds now, and a headless one the page's address.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "engine/kasan.h"
#include "engine/sync.h"
#include "mm/mm.h"
#include "mm/page_alloc.h"

namespace pagesim::drivers {

namespace z3 {
inline constexpr uint32_t PAGE_SHIFT = 12;
inline constexpr uint32_t PAGE_SIZE = 1u << PAGE_SHIFT;
inline constexpr uint32_t NCHUNKS_ORDER = 6;
inline constexpr uint32_t CHUNK_SHIFT = PAGE_SHIFT - NCHUNKS_ORDER;
inline constexpr uint32_t CHUNK_SIZE = 1u << CHUNK_SHIFT;
// round_up(sizeof(struct z3fold_header), CHUNK_SIZE): 88 bytes on x86_64 without lock
// debugging, so two chunks.
inline constexpr uint32_t ZHDR_SIZE_ALIGNED = 128;
inline constexpr uint32_t ZHDR_CHUNKS = ZHDR_SIZE_ALIGNED >> CHUNK_SHIFT;
inline constexpr uint32_t TOTAL_CHUNKS = PAGE_SIZE >> CHUNK_SHIFT;
inline constexpr uint32_t NCHUNKS = TOTAL_CHUNKS - ZHDR_CHUNKS;
inline constexpr uint32_t BUDDY_MASK = 0x3;
inline constexpr uint32_t BUDDY_SHIFT = 2;
inline constexpr uint64_t SLOTS_ALIGN = 0x40;
inline constexpr uint32_t BIG_CHUNK_GAP = 3;
}  // namespace z3

enum z3fold_buddy : uint8_t { HEADLESS = 0, FIRST, MIDDLE, LAST };

// Internal z3fold page flags, in page->private.
enum z3fold_page_flags : int {
  PAGE_HEADLESS = 0,
  MIDDLE_CHUNK_MAPPED,
  NEEDS_COMPACTING,
  PAGE_STALE,
  PAGE_CLAIMED,   // by either reclaim or free
  PAGE_MIGRATED,  // 943fb61dd66f: page is migrated and soon to be released
};

// Object classes of z3fold (objclass::kZ3foldBase + n).
namespace z3obj {
inline constexpr uint8_t kHeader = objclass::kZ3foldBase + 0;    // a page's header and data, by pfn
inline constexpr uint8_t kPageLock = objclass::kZ3foldBase + 1;  // zhdr->page_lock, by pfn
inline constexpr uint8_t kSlots = objclass::kZ3foldBase + 2;     // a slots array and its rwlock
inline constexpr uint8_t kPool = objclass::kZ3foldBase + 3;      // pool->lock, stale_lock, lists
}  // namespace z3obj
inline ObjId z3fold_header_obj(mm::Pfn pfn) { return make_obj(z3obj::kHeader, pfn); }
inline ObjId z3fold_slots_obj(uint32_t id) { return make_obj(z3obj::kSlots, id); }

// zhdr->buddy: on no list, on pool->stale, or on unbuddied list cpu * NCHUNKS + i.
inline constexpr int32_t kZ3NoList = -1;
inline constexpr int32_t kZ3Stale = -2;
inline constexpr int32_t kZ3OutOfBounds = -3;  // on unbuddied[NCHUNKS], past the per-CPU array
// kZ3CopiedFrom - pfn: a migrated header's buddy copied from pfn's before c92d2f38563d: an
// empty list head that links to the old page's.
inline constexpr int32_t kZ3CopiedFrom = -4;

// struct z3fold_header, at the start of every page that is not headless.
struct Z3foldHeader {
  int32_t buddy = kZ3NoList;
  SpinLock page_lock;
  int32_t refcount = 0;   // kref
  uint32_t work = 0;      // zhdr->work (its INIT_WORK id)
  uint32_t slots = 0;     // 0: NULL
  uint32_t pool = 0;
  int16_t cpu = -1;
  uint16_t first_chunks = 0, middle_chunks = 0, last_chunks = 0, start_middle = 0;
  uint8_t first_num = 0;        // :2
  uint8_t mapped_count = 0;     // :2
  uint8_t foreign_handles = 0;  // :2
};

// An object in a page: the content token its user wrote, and zswap's header in front of
// it (struct zswap_header: the entry it belongs to, here the user's handle).
struct Z3foldObject {
  uint32_t token = 0;
  uint64_t owner = 0;
};

// A z3fold page's memory: the header, then the objects by start chunk.
struct Z3foldPageMem {
  Z3foldHeader hdr;
  std::array<Z3foldObject, z3::TOTAL_CHUNKS> data{};
  KasanObject life;  // live from init_z3fold_page (or the migration's copy) to the page's free
  // page->private as z3fold left it when the page was freed: the kernel's freed order-0
  // page sits on a per-cpu list (the model has none) with page->private untouched.
  uint64_t private_at_free = 0;
};

// struct z3fold_buddy_slots: a kmem_cache object of pool->c_handle.
struct Z3foldSlots {
  std::array<uint64_t, z3::BUDDY_MASK + 1> slot{};
  uint32_t pool = 0;
  bool nofree = false;  // HANDLES_NOFREE in slots->pool: z3fold_reclaim_page's own, on its stack
  bool orphaned = false;  // HANDLES_ORPHANED (until fc5488651c7d): its page was released
  RwLock lock;
  bool allocated = false;
  KasanObject life;
};

struct Z3foldPool {
  std::string name;
  SpinLock lock;        // protects the unbuddied lists and lru
  SpinLock stale_lock;  // protects stale
  // The per-CPU unbuddied lists: cpu * NCHUNKS + free chunks, each a list of headers (pfn),
  // head first.
  std::vector<std::vector<mm::Pfn>> unbuddied;
  uint32_t lru = mm::kNoList;  // pool->lru through page->lru (until e774a7bc7f0a, 6.5)
  std::vector<mm::Pfn> stale;  // pool->stale through zhdr->buddy, head first
  int64_t pages_nr = 0;
  uint32_t compact_wq = 0, release_wq = 0;
  uint32_t work = 0;            // pool->work: free_pages_work
  uint32_t mapping = 0;         // the pool inode's mapping, or z3fold_mops (68f2736a8583)
  bool live = true;             // until z3fold_destroy_pool
  KasanObject life;             // kzalloc'ed by z3fold_create_pool, kfree'd by z3fold_destroy_pool
};

// What a user of the pool did with a handle (model bookkeeping for the checks), and the
// zswap entry that holds it (mm/zswap.c: refcounted under the tree's lock; the last put
// frees the handle).
struct Z3foldUserHandle {
  uint32_t pool = 0;
  uint32_t written = 0;  // the content token last written (0: never)
  bool freed = false;    // z3fold_free was called on it
  bool in_tree = true;   // the zswap entry is in the tree (until invalidated or written back)
  int32_t refcount = 1;  // the entry's refcount
};

struct Z3fold {
  std::vector<Z3foldPool> pools;
  std::deque<Z3foldSlots> slots;  // by id - 1; never reused (KASAN's quarantine)
  std::deque<Z3foldPageMem> mem;  // page memory, by mem_of[pfn] - 1
  std::vector<uint32_t> mem_of;
  std::map<uint64_t, Z3foldUserHandle> handles;  // every handle z3fold_alloc returned
  uint32_t mops_mapping = 0;  // z3fold_mops (68f2736a8583)
  SpinLock zswap_tree_lock;   // tree->lock of zswap's (one swap device's) tree
};

uint32_t z3fold_create_pool(mm::Mm& mm, std::string name);
// z3fold_destroy_pool: "The pool should be emptied before this function is called." It
// drains both workqueues, frees the pool's inode (before 68f2736a8583) and the pool.
void z3fold_destroy_pool(mm::Mm& mm, uint32_t pool);
// z3fold_alloc(pool, size, gfp, &handle): 0 and the handle, or -EINVAL, -ENOSPC, -ENOMEM.
int z3fold_alloc(mm::Mm& mm, uint32_t pool, size_t size, mm::gfp_t gfp, uint64_t* handle);
void z3fold_free(mm::Mm& mm, uint32_t pool, uint64_t handle);
// z3fold_map: the object's address, as the content token found there (the caller then
// reads or writes it); z3fold_unmap.
uint64_t z3fold_map(mm::Mm& mm, uint32_t pool, uint64_t handle);
void z3fold_unmap(mm::Mm& mm, uint32_t pool, uint64_t handle);
// A user's access to a mapped object: what zswap's load and store do between map and unmap.
uint32_t z3fold_read_mapped(mm::Mm& mm, uint64_t addr);
void z3fold_write_mapped(mm::Mm& mm, uint32_t pool, uint64_t handle, uint64_t addr, uint32_t token);

// kasan_free_pages for z3fold's pages: KASAN poisons the page's memory.
void z3fold_page_freed(mm::Mm& mm, mm::Pfn pfn);

// z3fold_reclaim_page (until e774a7bc7f0a, 6.5): evicts the objects of the pool's least
// recently used page through zswap's eviction handler (zswap_writeback_entry: the
// entry's handle is freed by whoever drops its last reference); 0, -EINVAL or -EAGAIN.
int z3fold_reclaim_page(mm::Mm& mm, uint32_t pool, uint32_t retries);
// zswap_frontswap_invalidate_page: the entry leaves the tree, and its last put frees the
// handle (z3fold_free under the tree's lock).
void zswap_invalidate(mm::Mm& mm, uint32_t pool, uint64_t handle);
// zswap's header in front of a new object: the entry (handle) it belongs to.
void zswap_write_header(mm::Mm& mm, uint64_t handle);

bool z3fold_page_isolate(mm::Mm& mm, mm::Pfn page, mm::isolate_mode_t mode);
int z3fold_page_migrate(mm::Mm& mm, uint32_t mapping, mm::Pfn newpage, mm::Pfn page, mm::MigrateMode mode);
void z3fold_page_putback(mm::Mm& mm, mm::Pfn page);
extern const mm::AddressSpaceOps z3fold_aops;

// The page (pfn) that holds a live handle's object now, for scripts and views.
mm::Pfn z3fold_page_of(const mm::Mm& mm, uint64_t handle);
// Consistency of a quiescent pool. Empty: consistent. Leaks start with kLeak.
std::vector<std::string> z3fold_check(const mm::Mm& mm);

}  // namespace pagesim::drivers
