// The page allocator: a buddy allocator per zone with pageblock migratetypes, fallback
// and stealing (mm/page_alloc.c), watermarks, and fragmentation metrics (mm/vmstat.c).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mm/mm.h"

namespace pagesim::mm {

// gfp_t bits (include/linux/gfp.h, 4.8 values).
using gfp_t = uint32_t;
inline constexpr gfp_t __GFP_DMA = 0x01u;
inline constexpr gfp_t __GFP_HIGHMEM = 0x02u;
inline constexpr gfp_t __GFP_DMA32 = 0x04u;
inline constexpr gfp_t __GFP_MOVABLE = 0x08u;
inline constexpr gfp_t __GFP_RECLAIMABLE = 0x10u;
inline constexpr gfp_t __GFP_HIGH = 0x20u;
inline constexpr gfp_t __GFP_IO = 0x40u;
inline constexpr gfp_t __GFP_FS = 0x80u;
inline constexpr gfp_t __GFP_COLD = 0x100u;
inline constexpr gfp_t __GFP_NOWARN = 0x200u;
inline constexpr gfp_t __GFP_REPEAT = 0x400u;
inline constexpr gfp_t __GFP_NOFAIL = 0x800u;
inline constexpr gfp_t __GFP_NORETRY = 0x1000u;
inline constexpr gfp_t __GFP_MEMALLOC = 0x2000u;
inline constexpr gfp_t __GFP_COMP = 0x4000u;
inline constexpr gfp_t __GFP_ZERO = 0x8000u;
inline constexpr gfp_t __GFP_NOMEMALLOC = 0x10000u;
inline constexpr gfp_t __GFP_HARDWALL = 0x20000u;
inline constexpr gfp_t __GFP_THISNODE = 0x40000u;
inline constexpr gfp_t __GFP_ATOMIC = 0x80000u;
inline constexpr gfp_t __GFP_ACCOUNT = 0x100000u;
inline constexpr gfp_t __GFP_NOTRACK = 0x200000u;
inline constexpr gfp_t __GFP_DIRECT_RECLAIM = 0x400000u;
inline constexpr gfp_t __GFP_OTHER_NODE = 0x800000u;
inline constexpr gfp_t __GFP_WRITE = 0x1000000u;
inline constexpr gfp_t __GFP_KSWAPD_RECLAIM = 0x2000000u;
inline constexpr gfp_t __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
inline constexpr unsigned __GFP_BITS_SHIFT = 26;  // 4.8
inline constexpr gfp_t __GFP_BITS_MASK = (gfp_t(1) << __GFP_BITS_SHIFT) - 1;
inline constexpr gfp_t GFP_ATOMIC = __GFP_HIGH | __GFP_ATOMIC | __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
inline constexpr gfp_t GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_NOIO = __GFP_RECLAIM;
inline constexpr gfp_t GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
inline constexpr gfp_t GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
inline constexpr gfp_t GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
inline constexpr gfp_t GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;

// alloc_flags (mm/internal.h, 4.8 values): the watermark index in the low bits.
inline constexpr unsigned ALLOC_WMARK_MIN = 0;
inline constexpr unsigned ALLOC_WMARK_LOW = 1;
inline constexpr unsigned ALLOC_WMARK_HIGH = 2;
inline constexpr unsigned ALLOC_NO_WATERMARKS = 0x04;
inline constexpr unsigned ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1;
inline constexpr unsigned ALLOC_HARDER = 0x10;
inline constexpr unsigned ALLOC_HIGH = 0x20;
inline constexpr unsigned ALLOC_CPUSET = 0x40;
inline constexpr unsigned ALLOC_CMA = 0x80;
inline constexpr unsigned ALLOC_NOFRAGMENT = 0x100;  // 6bb154504f8b (5.0): avoid mixing pageblock types
inline constexpr unsigned ALLOC_KSWAPD = 0x200;      // 0a79cdad5eb2 (5.0): allow waking of kswapd
// Orders above this are "costly": the slow path compacts (async) before anything else and
// does not retry them without __GFP_REPEAT.
inline constexpr unsigned PAGE_ALLOC_COSTLY_ORDER = 3;

int gfpflags_to_migratetype(gfp_t gfp);
unsigned gfp_to_alloc_flags(const Mm& mm, gfp_t gfp);  // the slow path's flags (__alloc_pages_slowpath)
std::string gfp_names(gfp_t gfp);  // "GFP_KERNEL|__GFP_MOVABLE"-style, for reports

// A zone to create: name, size in pages (a multiple of pageblock_nr_pages), and the
// migratetype its pageblocks start with (MIGRATE_MOVABLE for normal memory, MIGRATE_CMA
// for a CMA area).
struct ZoneSpec {
  std::string name;
  uint32_t pages;
  MigrateType initial_mt = MIGRATE_MOVABLE;
};

// Builds mem_map and the zones, one after the other from pfn 0, with every page free in
// the buddy allocator (merged into the largest blocks) and watermarks set from the size.
void init_memory(Mm& mm, const std::vector<ZoneSpec>& zones);

// alloc_pages(gfp, order): the head pfn of a 2^order block with refcount 1 and `owner`
// recorded in each page, or kNoPfn. Takes zone->lock (a scheduling point). Respects the
// watermarks unless __GFP_HIGH/ALLOC_NO_WATERMARKS-like flags say otherwise. A failed
// order > 0 request with __GFP_DIRECT_RECLAIM runs 4.8's slow path: a costly order tries
// async direct compaction first, then every order tries sync-light compaction (unless
// deferred); there is no reclaim, retry loop or OOM killer.
Pfn alloc_pages(Mm& mm, gfp_t gfp, unsigned order, Owner owner);
// __free_pages: drops a reference; at zero, free_pages_prepare checks (bad_page is
// reported as an outcome and the page is leaked, as the kernel does) and the block
// goes back to the buddy allocator with merging.
void __free_pages(Mm& mm, Pfn pfn, unsigned order);
// Frees a block whose refcount already reached zero (put_page's path).
void free_pages_zero_ref(Mm& mm, Pfn pfn, unsigned order);

// Buddy helpers compaction uses (4.8 names).
bool PageBuddy(const Mm& mm, Pfn pfn);   // _mapcount == PAGE_BUDDY_MAPCOUNT_VALUE
unsigned page_order(const Mm& mm, Pfn pfn);  // page_private of a buddy page
// __isolate_free_page: takes a free block out of the buddy lists (zone->lock held),
// checking the watermark for order-0; returns the number of pages or 0.
unsigned __isolate_free_page(Mm& mm, Pfn pfn, unsigned order);
// split_page-like: after __isolate_free_page, make each page of the block an order-0
// page with refcount 1 (post_alloc_hook + split_page).
void split_free_block(Mm& mm, Pfn pfn, unsigned order, Owner owner);

int get_pageblock_migratetype(const Mm& mm, Pfn pfn);
void set_pageblock_migratetype(Mm& mm, Pfn pfn, int mt);

// zone_watermark_ok(z, order, mark) with alloc_flags 0, as kswapd asks it: free CMA
// pages do not count. The overloads take the mark in pages and the caller's alloc_flags
// (compaction passes cc->alloc_flags); __zone_watermark_ok also takes the free pages to
// test (compaction_suitable's wmark_target).
bool zone_watermark_ok(const Mm& mm, const Zone& z, unsigned order, Watermark mark);
bool zone_watermark_ok(const Mm& mm, const Zone& z, unsigned order, uint64_t mark,
                       unsigned alloc_flags);
bool __zone_watermark_ok(const Mm& mm, const Zone& z, unsigned order, uint64_t mark,
                         unsigned alloc_flags, int64_t free_pages);

// find_suitable_fallback: the migratetype an allocation of `migratetype` would fall back
// to in `area` (the fallbacks table), or -1; *can_steal says whether it would claim the
// pageblock. Compaction's __compact_finished asks it with only_stealable.
int find_suitable_fallback(const Mm& mm, const FreeArea& area, unsigned order, int migratetype,
                           bool only_stealable, bool* can_steal);
// move_freepages_block: moves the free blocks of pfn's pageblock to the free lists of
// `migratetype` (zone->lock held); returns the number of pages moved, and counts in
// *num_movable the pageblock's LRU and __PageMovable pages (02aa0cdd7248). The
// pageblock's own migratetype is not changed (set_pageblock_migratetype does that).
int move_freepages_block(Mm& mm, Zone& z, Pfn pfn, int migratetype, int* num_movable = nullptr);

// Fragmentation metrics (mm/vmstat.c): free blocks per order, the unusable free space
// index (0..1000, as /sys/kernel/debug/extfrag/unusable_index shows it) and the
// fragmentation index (-1000 when the request would succeed, else 0..1000).
std::vector<uint64_t> free_blocks_per_order(const Mm& mm, const Zone& z);
int unusable_free_index(const Mm& mm, const Zone& z, unsigned order);
int fragmentation_index(const Mm& mm, const Zone& z, unsigned order);

}  // namespace pagesim::mm
