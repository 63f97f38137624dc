// The page allocator of Linux 4.8 (mm/page_alloc.c) and the fragmentation metrics of
// mm/vmstat.c. Function names and the order of checks follow the kernel.
//
// What the model leaves out or simplifies:
//  - No per-cpu pagesets: order-0 pages are allocated from and freed to the buddy lists
//    directly under zone->lock. That is 4.8 on a zone of fewer than 8192 managed pages:
//    zone_batchsize() is 0 there, so pcp->high is 0 and pcp->batch 1, and
//    free_hot_cold_page hands each freed page to free_pcppages_bulk at once. A freed page
//    is PageBuddy at once, which is what compaction's scanners race against. A larger
//    zone keeps up to pcp->high freed pages per CPU off the buddy lists.
//  - No MIGRATE_HIGHATOMIC reserve (nr_reserved_highatomic is 0), no lowmem_reserve, no
//    cpusets, no compound pages (__GFP_COMP is accepted and ignored), and grouping by
//    mobility is never disabled (page_group_by_mobility_disabled is false even for tiny
//    memories). Direct reclaim, kswapd and the OOM killer are not modelled.
//  - NR_FREE_CMA_PAGES is not kept as a counter: it is the size of the MIGRATE_CMA free
//    lists, which is what the kernel's counter tracks.
//  - Scheduling points: every write of struct page state (set_page_order, rmv_page_order,
//    the refcount, the flags at free) and every free-list operation (list.h) is one.
//    Reads of buddy state under zone->lock are not: only zone->lock holders write it.
//    The public PageBuddy/page_order (compaction's lockless reads) and the watermark
//    reads (zone_page_state) are. Pageblock migratetype bits are not scheduling points.
#include "mm/page_alloc.h"

#include "mm/compaction.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "engine/sync.h"
#include "mm/current.h"
#include "mm/kswapd.h"
#include "mm/page_ops.h"
#include "mm/vmstat.h"

namespace pagesim::mm {
namespace {

constexpr uint64_t pgbit(int nr) { return uint64_t(1) << nr; }

// include/linux/page-flags.h, 4.8.
constexpr uint64_t PAGE_FLAGS_CHECK_AT_FREE =
    pgbit(PG_lru) | pgbit(PG_locked) | pgbit(PG_private) | pgbit(PG_private_2) |
    pgbit(PG_writeback) | pgbit(PG_reserved) | pgbit(PG_slab) | pgbit(PG_swapcache) |
    pgbit(PG_active) | pgbit(PG_unevictable) | pgbit(PG_mlocked);
constexpr uint64_t PAGE_FLAGS_CHECK_AT_PREP = pgbit(NR_PAGEFLAGS) - 1;

// mm/page_alloc.c: watermark_scale_factor's default (0.1% of the zone).
constexpr uint64_t watermark_scale_factor = 10;

// include/linux/gfp.h composites that gfp.h of the model does not define.
constexpr gfp_t GFP_TEMPORARY = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_RECLAIMABLE;
constexpr gfp_t GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
constexpr gfp_t GFP_DMA = __GFP_DMA;
constexpr gfp_t GFP_DMA32 = __GFP_DMA32;
constexpr gfp_t GFP_TRANSHUGE_LIGHT =
    (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM;
constexpr gfp_t GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;

// The fallbacks table of 4.8: which free lists an allocation may steal from, in order.
constexpr int fallbacks[MIGRATE_TYPES][4] = {
    /* MIGRATE_UNMOVABLE   */ {MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE, MIGRATE_TYPES, 0},
    /* MIGRATE_MOVABLE     */ {MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, MIGRATE_TYPES, 0},
    /* MIGRATE_RECLAIMABLE */ {MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_TYPES, 0},
    /* MIGRATE_HIGHATOMIC  */ {MIGRATE_TYPES, 0, 0, 0},  // never used
    /* MIGRATE_CMA         */ {MIGRATE_TYPES, 0, 0, 0},  // never used
    /* MIGRATE_ISOLATE     */ {MIGRATE_TYPES, 0, 0, 0},  // never used
};

bool in_task() {
  Sim* s = Sim::current();
  return s && s->current_task();
}

// current->comm for reports.
std::string current_comm() {
  Sim* s = Sim::current();
  Task* t = s ? s->current_task() : nullptr;
  return t ? t->name : std::string("(set-up)");
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#" PRIx64, v);
  return b;
}

const Zone* find_zone(const Mm& mm, Pfn pfn) {
  for (const Zone& z : mm.zones)
    if (z.contains(pfn)) return &z;
  return nullptr;
}

Zone& zone_of_checked(Mm& mm, Pfn pfn, const char* fn) {
  for (Zone& z : mm.zones)
    if (z.contains(pfn)) return z;
  throw UsageError(std::string(fn) + ": pfn " + std::to_string(pfn) + " is outside every zone" +
                   (mm.zones.empty() ? " (init_memory has not been called)" : ""));
}

void check_pfn(const Mm& mm, Pfn pfn, const char* fn) {
  if (!mm.valid_pfn(pfn))
    throw UsageError(std::string(fn) + ": pfn " + std::to_string(pfn) + " is outside memory (" +
                     std::to_string(mm.pages.size()) + " pages)");
}

// A block [pfn, pfn + 2^order) must be a real buddy block: order below MAX_ORDER, pfn
// aligned to it, inside one zone.
Zone& check_block(Mm& mm, Pfn pfn, unsigned order, const char* fn) {
  if (order >= unsigned(MAX_ORDER))
    throw UsageError(std::string(fn) + ": order " + std::to_string(order) +
                     " is not below MAX_ORDER (" + std::to_string(MAX_ORDER) + ")");
  check_pfn(mm, pfn, fn);
  if (pfn & ((1u << order) - 1))
    throw UsageError(std::string(fn) + ": pfn " + std::to_string(pfn) +
                     " is not aligned to its order " + std::to_string(order));
  Zone& z = zone_of_checked(mm, pfn, fn);
  if (uint64_t(pfn) + (1u << order) > z.end_pfn())
    throw UsageError(std::string(fn) + ": the order-" + std::to_string(order) +
                     " block at pfn " + std::to_string(pfn) + " crosses the end of zone " +
                     z.name);
  return z;
}

inline bool page_buddy_locked(const Page& p) { return p.mapcount == PAGE_BUDDY_MAPCOUNT_VALUE; }

uint32_t pageblock_index(const Zone& z, Pfn pfn) {
  return (pfn - z.zone_start_pfn) >> pageblock_order;
}

int get_pfnblock_migratetype(const Zone& z, Pfn pfn) {
  return z.pageblock_mt[pageblock_index(z, pfn)];
}

// set_page_order / rmv_page_order: the buddy state of a free block's head page.
void set_page_order(Mm& mm, Pfn pfn, unsigned order) {
  Page& p = mm.page(pfn);
  // __SetPageBuddy: VM_BUG_ON_PAGE(atomic_read(&page->_mapcount) != -1, page)
  if (mm.cfg.debug_vm && p.mapcount != -1)
    bug_on_page(mm, pfn, REPORT_FUNC("__SetPageBuddy"),
                BUG_SITE_IN("__SetPageBuddy", "VM_BUG_ON_PAGE(atomic_read(&page->_mapcount) != -1)"));
  sched(Op::Write, Access::Write, page_obj(pfn), here());
  p.private_ = order;                        // set_page_private(page, order)
  p.mapcount = PAGE_BUDDY_MAPCOUNT_VALUE;    // __SetPageBuddy(page)
}

void rmv_page_order(Mm& mm, Pfn pfn) {
  Page& p = mm.page(pfn);
  sched(Op::Write, Access::Write, page_obj(pfn), here());
  p.mapcount = -1;  // __ClearPageBuddy(page)
  p.private_ = 0;   // set_page_private(page, 0)
}

// __mod_zone_freepage_state: NR_FREE_PAGES of the zone and of the node (the model's
// vmstat). MIGRATE_ISOLATE pages are not counted as free, as in the kernel.
void __mod_zone_freepage_state(Mm& mm, Zone& z, int64_t nr_pages) {
  z.free_pages = uint64_t(int64_t(z.free_pages) + nr_pages);
  mm.stat(Stat::NR_FREE_PAGES) += nr_pages;
  sample_counter(mm, Stat::NR_FREE_PAGES);
  kswapd_note_change(mm);
}

// NR_FREE_CMA_PAGES: the pages on the MIGRATE_CMA free lists.
int64_t nr_free_cma_pages(const Mm& mm, const Zone& z) {
  int64_t n = 0;
  for (int o = 0; o < MAX_ORDER; ++o)
    n += int64_t(mm.lists[z.free_area[o].free_list[MIGRATE_CMA]].count) << o;
  return n;
}

// page_is_buddy: the buddy is free in the buddy allocator at the same order and in the
// same zone (called with zone->lock held: the buddy state cannot change under us).
bool page_is_buddy(const Mm& mm, const Zone& z, Pfn buddy, unsigned order) {
  if (!mm.valid_pfn(buddy)) return false;  // pfn_valid_within
  const Page& b = mm.page(buddy);
  if (page_buddy_locked(b) && b.private_ == order) {
    // The zone check is done late to avoid computing zone ids for pages that could
    // never merge.
    if (!z.contains(buddy)) return false;
    if (b.refcount != 0)  // VM_BUG_ON_PAGE(page_count(buddy) != 0, buddy)
      bug_on_page(mm, buddy, REPORT_FUNC("page_is_buddy"),
                  BUG_SITE_IN("page_is_buddy", "VM_BUG_ON_PAGE(page_count(buddy) != 0)"));
    return true;
  }
  return false;
}

// __free_one_page: merges the block with its free buddies up to MAX_ORDER-1, never
// across pageblocks of which one is MIGRATE_ISOLATE (4.8 stops at pageblock_order and
// checks the buddy's pageblock before going further). zone->lock held.
void __free_one_page(Mm& mm, Pfn pfn, Zone& z, unsigned order, int migratetype) {
  MODEL_FUNC("__free_one_page");
  unsigned max_order = std::min<unsigned>(MAX_ORDER, pageblock_order + 1);
  Pfn buddy = kNoPfn;
  Pfn combined;

  capture_control* capc = task_capc(mm, z.id);  // 5e1f0f098b46

  if (migratetype != MIGRATE_ISOLATE) __mod_zone_freepage_state(mm, z, int64_t(1) << order);

continue_merging:
  while (order < max_order - 1) {
    // A direct compactor of this zone takes a block of its order.
    if (compaction_capture(capc, pfn, order, migratetype)) {
      if (migratetype != MIGRATE_ISOLATE) __mod_zone_freepage_state(mm, z, -(int64_t(1) << order));
      return;
    }
    buddy = pfn ^ (1u << order);  // __find_buddy_index
    if (!page_is_buddy(mm, z, buddy, order)) goto done_merging;
    // Our buddy is free: merge with it and move up one order.
    list_del(mm, buddy, here());
    z.free_area[order].nr_free--;
    rmv_page_order(mm, buddy);
    pfn &= buddy;  // combined_idx = buddy_idx & page_idx
    order++;
  }
  if (max_order < unsigned(MAX_ORDER)) {
    // Here order >= pageblock_order: do not merge a MIGRATE_ISOLATE pageblock with a
    // normal one, or isolation would get the free page accounting wrong.
    buddy = pfn ^ (1u << order);
    if (mm.valid_pfn(buddy) && z.contains(buddy)) {
      const int buddy_mt = get_pfnblock_migratetype(z, buddy);
      if (migratetype != buddy_mt &&
          (migratetype == MIGRATE_ISOLATE || buddy_mt == MIGRATE_ISOLATE))
        goto done_merging;
    }
    max_order++;
    goto continue_merging;
  }

done_merging:
  set_page_order(mm, pfn, order);

  // If the buddy of the next-highest order is free, this block will likely be merged
  // soon: put it at the tail so it is less likely to be allocated meanwhile.
  if (order < unsigned(MAX_ORDER) - 2 && buddy != kNoPfn && mm.valid_pfn(buddy)) {
    combined = buddy & pfn;
    const Pfn higher_buddy = combined ^ (1u << (order + 1));
    if (z.contains(combined) && page_is_buddy(mm, z, higher_buddy, order + 1)) {
      list_add_tail(mm, pfn, z.free_area[order].free_list[migratetype], here());
      goto out;
    }
  }
  list_add(mm, pfn, z.free_area[order].free_list[migratetype], here());
out:
  z.free_area[order].nr_free++;
}

// expand: splits an order-`high` block down to `low`, putting the upper halves on the
// free lists of `migratetype`.
void expand(Mm& mm, Zone& z, Pfn page, unsigned low, unsigned high, int migratetype) {
  uint32_t size = 1u << high;
  while (high > low) {
    high--;
    size >>= 1;
    list_add(mm, page + size, z.free_area[high].free_list[migratetype], here());
    z.free_area[high].nr_free++;
    set_page_order(mm, page + size, high);
  }
}

// __rmqueue_smallest: the smallest free block of `migratetype` of at least `order`.
Pfn __rmqueue_smallest(Mm& mm, Zone& z, unsigned order, int migratetype) {
  for (unsigned current_order = order; current_order < unsigned(MAX_ORDER); ++current_order) {
    FreeArea& area = z.free_area[current_order];
    const Pfn page = mm.lists[area.free_list[migratetype]].first;  // list_first_entry_or_null
    if (page == kNoPfn) continue;
    list_del(mm, page, here());
    rmv_page_order(mm, page);
    area.nr_free--;
    expand(mm, z, page, order, current_order, migratetype);
    return page;
  }
  return kNoPfn;
}

// __rmqueue_cma_fallback: MIGRATE_CMA pageblocks serve movable allocations only.
Pfn __rmqueue_cma_fallback(Mm& mm, Zone& z, unsigned order) {
  return __rmqueue_smallest(mm, z, order, MIGRATE_CMA);
}

// The pages move_freepages counts as movable since 02aa0cdd7248: "pages that could be
// isolated for migration", on the LRU or __PageMovable. Read under zone->lock only, as
// the kernel reads them, and like the buddy test not a scheduling point: the count only
// weighs whether a fallback claims the pageblock.
bool counts_as_movable(const Mm& mm, const Page& p) {
  return (p.flags & (uint64_t(1) << PG_lru)) || page_is_movable(mm.cfg, p);
}

int move_freepages(Mm& mm, Zone& z, Pfn start, Pfn end, int migratetype, int* num_movable) {
  int pages_moved = 0;
  if (num_movable) *num_movable = 0;
  for (Pfn page = start; page <= end;) {
    const Page& p = mm.page(page);
    if (!page_buddy_locked(p)) {
      // We assume that pages that could be isolated for migration are movable. But we
      // don't actually try isolating, as that would be expensive.
      if (num_movable && counts_as_movable(mm, p)) (*num_movable)++;
      page++;
      continue;
    }
    const unsigned order = unsigned(p.private_);
    list_move(mm, page, z.free_area[order].free_list[migratetype], here());
    page += 1u << order;
    pages_moved += 1 << order;
  }
  return pages_moved;
}

void change_pageblock_range(Mm& mm, Pfn pageblock_page, unsigned start_order, int migratetype) {
  int nr_pageblocks = 1 << (start_order - pageblock_order);
  while (nr_pageblocks--) {
    set_pageblock_migratetype(mm, pageblock_page, migratetype);
    pageblock_page += pageblock_nr_pages;
  }
}

// can_steal_fallback: whether to claim the whole pageblock. Large blocks always; for
// smaller ones, unmovable and reclaimable allocations steal eagerly (they would
// fragment the movable block anyway), movable ones only from order pageblock_order/2.
bool can_steal_fallback(unsigned order, int start_mt) {
  if (order >= unsigned(pageblock_order)) return true;
  if (order >= unsigned(pageblock_order) / 2 || start_mt == MIGRATE_RECLAIMABLE ||
      start_mt == MIGRATE_UNMOVABLE)
    return true;
  return false;
}

uint64_t mult_frac(uint64_t x, uint64_t numer, uint64_t denom);

// boost_watermark (1c30844d2dfe): a pageblock more on the zone's watermarks, up to
// watermark_boost_factor (15000: 150%) of its high watermark. Under zone->lock. Returns
// whether it boosted (597c892038e0 reads it).
bool boost_watermark(Mm& mm, Zone& z) {
  constexpr uint64_t watermark_boost_factor = 15000;
  // Don't bother in zones that are unlikely to produce results. On small machines,
  // including kdump capture kernels running in a small area, boosting the watermark can
  // cause an out of memory situation immediately (14f69140ff9c).
  if (mm.cfg.has(Fix::BoostSmallZones) && pageblock_nr_pages * 4 > z.managed_pages) return false;
  uint64_t max_boost = mult_frac(z.watermark[size_t(Watermark::High)], watermark_boost_factor, 10000);
  // The high watermark may be uninitialised if fragmentation occurs very early in boot, so
  // do not boost: reclaim would not help (the division-by-zero fix).
  if (mm.cfg.has(Fix::BoostNoDivisionByZero) && !max_boost) return false;
  max_boost = std::max<uint64_t>(pageblock_nr_pages, max_boost);
  z.watermark_boost = std::min(z.watermark_boost + pageblock_nr_pages, max_boost);
  kswapd_note_change(mm);
  return true;
}

// steal_suitable_fallback: take ownership of blocks of pageblock_order and more;
// otherwise move the pageblock's free pages to our lists and claim the pageblock when at
// least half of it is free, or since 02aa0cdd7248 free or of a compatible migratetype.
// Since 3bc48f96cf11 it is called for every fallback (whole_block: may it steal the
// block) and leaves the page itself on our free list for __rmqueue_smallest; before, only
// for a block it may steal, and __rmqueue_fallback took the page.
void steal_suitable_fallback(Mm& mm, Zone& z, Pfn page, unsigned alloc_flags, int start_type,
                             bool whole_block) {
  const unsigned current_order = unsigned(mm.page(page).private_);
  const int old_block_type = get_pfnblock_migratetype(z, page);
  // This can happen due to races and we want to prevent broken highatomic accounting.
  // (Before 3bc48f96cf11 the caller did not steal from a highatomic block.)
  if (old_block_type == MIGRATE_HIGHATOMIC) goto single_page;
  // Take ownership for orders >= pageblock_order.
  if (current_order >= unsigned(pageblock_order)) {
    change_pageblock_range(mm, page, current_order, start_type);
    goto single_page;
  }
  // Boost watermarks to increase reclaim pressure to reduce the likelihood of future
  // fallbacks. Wake kswapd now as the node may be balanced overall and kswapd will not wake
  // naturally (1c30844d2dfe; since 73444bc4d8f9 rmqueue wakes it, without zone->lock). The
  // model boosts only with a kswapd to take the boost off (kswapd=True).
  if (mm.cfg.has(Fix::WatermarkBoost) && mm.kswapd.running) {
    // Since 597c892038e0 kswapd is owed a wakeup only for a boost.
    const bool boosted = boost_watermark(mm, z);
    if ((boosted || !mm.cfg.has(Fix::BoostWakeOnlyIfBoosted)) && (alloc_flags & ALLOC_KSWAPD)) {
      if (mm.cfg.has(Fix::BoostWakeOutsideZoneLock))
        z.boosted_watermark_flag = true;  // set_bit(ZONE_BOOSTED_WATERMARK, &zone->flags)
      else
        wakeup_kswapd(mm, z.id, 0, 0, int(z.id));
    }
  }
  // We are not allowed to try stealing from the whole block.
  if (!whole_block) goto single_page;
  {
    int movable_pages = 0;
    const int free_pages = move_freepages_block(mm, z, page, start_type, &movable_pages);
    // Determine how many pages are compatible with our allocation. For movable
    // allocation, it's the number of movable pages which we just obtained. Falling back a
    // reclaimable or unmovable allocation to a movable pageblock, all non-movable pages
    // are compatible; between unmovable and reclaimable, be conservative. (A free_pages of
    // 0, a pageblock beyond its zone, never happens here: the model's zones are whole
    // pageblocks.)
    int alike_pages = 0;
    if (mm.cfg.has(Fix::FallbackCountsMovable)) {
      if (start_type == MIGRATE_MOVABLE)
        alike_pages = movable_pages;
      else if (old_block_type == MIGRATE_MOVABLE)
        alike_pages = int(pageblock_nr_pages) - (free_pages + movable_pages);
    }
    // If a sufficient number of pages in the block are either free or of comparable
    // migratability as our allocation, claim the whole block.
    if (free_pages + alike_pages >= (1 << (pageblock_order - 1)))
      set_pageblock_migratetype(mm, page, start_type);
    return;
  }
single_page:
  if (mm.cfg.has(Fix::FallbackStealThenSmallest))
    list_move(mm, page, z.free_area[current_order].free_list[start_type], here());
}

// __rmqueue_fallback: a page of another migratetype's lists, stealing its pageblock when
// can_steal_fallback says so. Walks from MAX_ORDER - 1 down: the largest free page
// roughly approximates the pageblock with the most free pages. Since 7a8f58f39188 a
// movable allocation that will not steal the block takes the smallest sufficient page.
// Since 3bc48f96cf11 it only steals (the page is then on our lists) and returns whether
// it found one; before, it split and returned the page it found.
Pfn __rmqueue_fallback(Mm& mm, Zone& z, unsigned order, int start_migratetype, unsigned alloc_flags) {
  const bool steal_then_smallest = mm.cfg.has(Fix::FallbackStealThenSmallest);
  int current_order = MAX_ORDER - 1;
  int fallback_mt = -1;
  bool can_steal = false;
  // Do not steal pages from freelists belonging to other pageblocks i.e. orders <
  // pageblock_order. If there are no local zones free, the zonelists will be reiterated
  // without ALLOC_NOFRAGMENT. (Since "only search higher order when fallback", only an
  // allocation below pageblock_order has its floor raised.)
  const bool below = int(order) < pageblock_order || !mm.cfg.has(Fix::FallbackOnlyHigherOrder);
  const int min_order = (below && (alloc_flags & ALLOC_NOFRAGMENT)) ? pageblock_order : int(order);
  for (; current_order >= min_order; --current_order) {
    fallback_mt = find_suitable_fallback(mm, z.free_area[current_order], unsigned(current_order),
                                         start_migratetype, false, &can_steal);
    if (fallback_mt != -1) break;
  }
  if (fallback_mt == -1) return kNoPfn;
  // We cannot steal all free pages from the pageblock and the requested migratetype is
  // movable: better split the smallest available page than the largest, because even if
  // the next movable allocation falls back into a different pageblock than this one, it
  // won't cause permanent fragmentation.
  if (mm.cfg.has(Fix::FallbackSmallestNoSteal) && !can_steal &&
      start_migratetype == MIGRATE_MOVABLE && current_order > int(order)) {
    for (current_order = int(order); current_order < MAX_ORDER; current_order++) {
      fallback_mt = find_suitable_fallback(mm, z.free_area[current_order], unsigned(current_order),
                                           start_migratetype, false, &can_steal);
      if (fallback_mt != -1) break;
    }
  }
  FreeArea& area = z.free_area[current_order];
  const Pfn page = mm.lists[area.free_list[fallback_mt]].first;
  if (steal_then_smallest) {
    steal_suitable_fallback(mm, z, page, alloc_flags, start_migratetype, can_steal);
    return page;
  }
  if (can_steal && get_pfnblock_migratetype(z, page) != MIGRATE_HIGHATOMIC)
    steal_suitable_fallback(mm, z, page, alloc_flags, start_migratetype, true);
  // Remove the page from the freelists.
  area.nr_free--;
  list_del(mm, page, here());
  rmv_page_order(mm, page);
  expand(mm, z, page, order, unsigned(current_order), start_migratetype);
  return page;
}

// __rmqueue: the preferred lists, then CMA for movable requests, then the fallbacks
// (since 3bc48f96cf11 a fallback steals onto our lists and the preferred lists are tried
// again).
Pfn __rmqueue(Mm& mm, Zone& z, unsigned order, int migratetype, unsigned alloc_flags) {
  MODEL_FUNC("__rmqueue");
retry:
  Pfn page = __rmqueue_smallest(mm, z, order, migratetype);
  if (page == kNoPfn) {
    if (migratetype == MIGRATE_MOVABLE) page = __rmqueue_cma_fallback(mm, z, order);
    if (page == kNoPfn) {
      page = __rmqueue_fallback(mm, z, order, migratetype, alloc_flags);
      if (page != kNoPfn && mm.cfg.has(Fix::FallbackStealThenSmallest)) goto retry;
    }
  }
  return page;
}

// page_expected_state: a page the allocator may hand out or take back.
bool page_expected_state(const Page& p, uint64_t check_flags) {
  // PG_balloon stands for 4.8's PAGE_BALLOON_MAPCOUNT_VALUE page type.
  if (p.mapcount != -1 || (p.flags & pgbit(PG_balloon))) return false;
  if (p.mapping | uint64_t(uint32_t(p.refcount)) | (p.flags & check_flags)) return false;
  return true;
}

// bad_page: reports the page and leaves it alone (leaked, its fields kept for debugging)
// except _mapcount, which page_mapcount_reset() sets to -1 so that a PageBuddy value
// cannot make the page look free.
void bad_page(Mm& mm, Pfn pfn, const char* reason, uint64_t bad_flags) {
  MODEL_FUNC("bad_page");
  Page& p = mm.page(pfn);
  std::vector<std::string> details{dump_page(mm, pfn, reason)};
  bad_flags &= p.flags;
  if (bad_flags)
    details.push_back("bad because of flags: " + hex(bad_flags) + "(" + page_flags_str(mm.cfg, bad_flags) +
                      ")");
  p.mapcount = -1;  // page_mapcount_reset(page): remove PageBuddy
  REPORT_BUG(REPORT_FUNC("bad_page"), "Bad page state in process " + current_comm() + ": " + reason,
             std::move(details));
}

void free_pages_check_bad(Mm& mm, Pfn pfn) {
  const Page& p = mm.page(pfn);
  const char* bad_reason = nullptr;
  uint64_t bad_flags = 0;
  if (p.mapcount != -1 || (p.flags & pgbit(PG_balloon))) bad_reason = "nonzero mapcount";
  if (p.mapping != 0) bad_reason = "non-NULL mapping";
  if (p.refcount != 0) bad_reason = "nonzero _refcount";
  if (p.flags & PAGE_FLAGS_CHECK_AT_FREE) {
    bad_reason = "PAGE_FLAGS_CHECK_AT_FREE flag(s) set";
    bad_flags = PAGE_FLAGS_CHECK_AT_FREE;
  }
  bad_page(mm, pfn, bad_reason, bad_flags);
}

// free_pages_check: true when the page is bad (and has been reported).
bool free_pages_check(Mm& mm, Pfn pfn) {
  if (page_expected_state(mm.page(pfn), PAGE_FLAGS_CHECK_AT_FREE)) return false;
  free_pages_check_bad(mm, pfn);
  return true;
}

// free_pages_prepare: the checks of a page being freed. A bad page is reported and the
// whole block is leaked (return false), as in the kernel.
bool free_pages_prepare(Mm& mm, Pfn pfn, unsigned order) {
  int bad = 0;
  const uint32_t nr = 1u << order;
  sched(Op::Read, Access::Read, page_obj(pfn), here());
  // Check tail pages before head page information is cleared.
  for (uint32_t i = 1; i < nr; ++i) {
    if (free_pages_check(mm, pfn + i)) {
      bad++;
      continue;
    }
    mm.page(pfn + i).flags &= ~PAGE_FLAGS_CHECK_AT_PREP;
  }
  Page& page = mm.page(pfn);
  if (page.mapping & PAGE_MAPPING_FLAGS) page.mapping = 0;  // PageMappingFlags: anon/movable
  bad += free_pages_check(mm, pfn);
  if (bad) return false;

  sched(Op::Write, Access::Write, page_obj(pfn), here());
  page.flags &= ~PAGE_FLAGS_CHECK_AT_PREP;
  for (uint32_t i = 0; i < nr; ++i) {
    Page& p = mm.page(pfn + i);
    if (p.owner == Owner::Z3fold && mm.kasan_free_pages) mm.kasan_free_pages(mm, pfn + i);
    p.owner = Owner::None;
    p.content = 0;
  }
  return true;
}

// free_one_page: the block goes back to the buddy lists under zone->lock.
void free_one_page(Mm& mm, Zone& z, Pfn pfn, unsigned order, int migratetype) {
  MODEL_FUNC("free_one_page");
  spin_lock(z.lock);
  // The pageblock may have been isolated meanwhile: re-read it under the lock (4.8 does
  // this when has_isolate_pageblock(zone) || is_migrate_isolate(migratetype)).
  migratetype = get_pfnblock_migratetype(z, pfn);
  __free_one_page(mm, pfn, z, order, migratetype);
  spin_unlock(z.lock);
}

// __free_pages_ok: the refcount has reached zero.
void __free_pages_ok(Mm& mm, Zone& z, Pfn pfn, unsigned order) {
  MODEL_FUNC("__free_pages_ok");
  if (!free_pages_prepare(mm, pfn, order)) return;
  const int migratetype = get_pfnblock_migratetype(z, pfn);
  local_irq_disable();  // local_irq_save(flags)
  free_one_page(mm, z, pfn, order, migratetype);
  local_irq_enable();
}

// The free buddy block containing pfn, if any (its head is the pfn aligned down to the
// block's order).
Pfn free_block_containing(const Mm& mm, Pfn pfn) {
  for (unsigned o = 0; o < unsigned(MAX_ORDER); ++o) {
    const Pfn head = pfn & ~((1u << o) - 1);
    const Page& h = mm.page(head);
    if (page_buddy_locked(h) && h.private_ == o) return head;
  }
  return kNoPfn;
}

// A page of [pfn, pfn + 2^order) that the buddy allocator owns, or kNoPfn.
Pfn already_free(const Mm& mm, Pfn pfn, unsigned order) {
  if (Pfn head = free_block_containing(mm, pfn); head != kNoPfn) return head;
  for (uint32_t i = 1; i < (1u << order); ++i)
    if (page_buddy_locked(mm.page(pfn + i))) return pfn + i;
  return kNoPfn;
}

// Freeing memory that is already free (a double free, or a put of a page whose
// refcount is already zero). The free lists are never touched: set-up code gets a
// UsageError; in a task, put_page_testzero's VM_BUG_ON_PAGE(page_ref_count(page) == 0)
// fires with CONFIG_DEBUG_VM, and otherwise (or when the block overlaps a free block)
// the page is reported as free_pages_check would see it: bad_page.
void free_of_free_page(Mm& mm, Pfn pfn, unsigned order, Pfn free_page, const char* fn,
                       bool put_of_zero_ref) {
  const Page& p = mm.page(pfn);
  std::string what;
  if (free_page != kNoPfn) {
    const Pfn head = free_block_containing(mm, free_page);
    what = "pfn " + std::to_string(free_page) + " is in the free order-" +
           std::to_string(mm.page(head).private_) + " block at pfn " + std::to_string(head);
  } else {
    what = "pfn " + std::to_string(pfn) + " has refcount " + std::to_string(p.refcount) +
           " (freed already, or not the head page of its block)";
  }
  if (!in_task())
    throw UsageError(std::string(fn) + "(pfn " + std::to_string(pfn) + ", order " +
                     std::to_string(order) + "): double free: " + what);
  if (put_of_zero_ref && mm.cfg.debug_vm)
    bug_on_page(mm, pfn, fn,
                BUG_SITE_IN("put_page_testzero", "VM_BUG_ON_PAGE(page_ref_count(page) == 0)"),
                {what});
  const char* reason = page_buddy_locked(p) || free_page != kNoPfn ? "nonzero mapcount"
                                                                   : "nonzero _refcount";
  REPORT_BUG(REPORT_FUNC("bad_page"), "Bad page state in process " + current_comm() + ": " + reason,
             {dump_page(mm, pfn, what)});
}

// Set-up code must not free a page that is still on a list: the free list would be
// corrupted (a task gets the kernel's list corruption report instead).
void check_not_listed(const Mm& mm, Pfn pfn, const char* fn) {
  const Page& p = mm.page(pfn);
  if (!in_task() && p.list != kNoList && p.list != kPoisonList)
    throw UsageError(std::string(fn) + ": pfn " + std::to_string(pfn) + " is still on list " +
                     mm.lists[p.list].name());
}

// ---- allocation ----

struct AllocContext {
  gfp_t gfp;
  int migratetype;
  Owner owner;
};

// gfp_zone + the zonelist: which zones an allocation may use.
bool zone_allowed(gfp_t gfp, const Zone& z) {
  if (gfp & __GFP_DMA) return z.name == "DMA";
  if (gfp & __GFP_DMA32) return z.name == "DMA32" || z.name == "DMA";
  if (z.name == "Movable")
    return (gfp & (__GFP_MOVABLE | __GFP_HIGHMEM)) == (__GFP_MOVABLE | __GFP_HIGHMEM);
  return true;
}

// check_new_page: a page taken from the free lists must look free. Returns the reason
// it does not, or nullptr.
const char* check_new_page_bad_reason(const Page& p, uint64_t* bad_flags) {
  if (page_expected_state(p, PAGE_FLAGS_CHECK_AT_PREP)) return nullptr;
  const char* bad_reason = nullptr;
  if (p.mapcount != -1 || (p.flags & pgbit(PG_balloon))) bad_reason = "nonzero mapcount";
  if (p.mapping != 0) bad_reason = "non-NULL mapping";
  if (p.refcount != 0) bad_reason = "nonzero _refcount";
  if (p.flags & PAGE_FLAGS_CHECK_AT_PREP) {
    bad_reason = "PAGE_FLAGS_CHECK_AT_PREP flag set";
    *bad_flags = PAGE_FLAGS_CHECK_AT_PREP;
  }
  return bad_reason;
}

struct BadNewPage {
  Pfn pfn;
  const char* reason;
  uint64_t flags;
};

// buffered_rmqueue: takes a block off the free lists under zone->lock. Pages that fail
// check_new_pages are leaked and the allocator tries again (4.8 checks high-order
// blocks always, order-0 pages with CONFIG_DEBUG_VM: the pcp path's check).
Pfn buffered_rmqueue(Mm& mm, Zone& z, unsigned order, unsigned alloc_flags, int migratetype) {
  MODEL_FUNC("buffered_rmqueue");
  std::vector<BadNewPage> bad;
  Pfn page;
  spin_lock_irqsave(z.lock);
  for (;;) {
    // ALLOC_HARDER would try __rmqueue_smallest(MIGRATE_HIGHATOMIC) first: the model
    // keeps no high-order atomic reserve.
    page = __rmqueue(mm, z, order, migratetype, alloc_flags);
    if (page == kNoPfn) break;
    // The kernel updates NR_FREE_PAGES after dropping the lock, and not for pages it
    // finds bad; the model keeps the counter equal to the free lists.
    __mod_zone_freepage_state(mm, z, -(int64_t(1) << order));
    // 479f854a207c: an order-0 page is checked only with CONFIG_DEBUG_VM (its check at the
    // per-cpu list refill is not modelled); before, prep_new_page checked every page.
    if (order == 0 && !mm.cfg.debug_vm && mm.cfg.has(Fix::DeferPcpChecks)) break;
    const char* reason = nullptr;
    Pfn bad_pfn = kNoPfn;
    uint64_t bad_flags = 0;
    for (uint32_t i = 0; i < (1u << order) && !reason; ++i)
      if ((reason = check_new_page_bad_reason(mm.page(page + i), &bad_flags))) bad_pfn = page + i;
    if (!reason) break;
    bad.push_back({bad_pfn, reason, bad_flags});
    if (!in_task()) {  // set-up code: report (raise) at once, with the lock dropped
      page = kNoPfn;
      break;
    }
  }
  spin_unlock_irqrestore(z.lock);
  for (const BadNewPage& b : bad) bad_page(mm, b.pfn, b.reason, b.flags);
  // out: (73444bc4d8f9) the wakeup a boost owes kswapd. An order-0 request always gets
  // here (from the per-cpu lists), a higher one only with its page; since 6.5 only one
  // that may wake kswapd pays it. (Only kswapd=True boosts.)
  const bool may_wake = !mm.cfg.has(Fix::RmqueueWakeNeedsKswapd) || (alloc_flags & ALLOC_KSWAPD);
  if (mm.cfg.has(Fix::BoostWakeOutsideZoneLock) && mm.kswapd.running && may_wake &&
      (order == 0 || page != kNoPfn)) {
    sched(Op::Read, Access::Read, z.lock.id, here());  // test_bit(ZONE_BOOSTED_WATERMARK)
    if (z.boosted_watermark_flag) {
      z.boosted_watermark_flag = false;
      wakeup_kswapd(mm, z.id, 0, 0, int(z.id));
    }
  }
  return page;
}

// prep_new_page: post_alloc_hook (private 0, refcount 1 on the head) and the model's
// owner of every page of the block.
void prep_new_page(Mm& mm, Pfn pfn, unsigned order, gfp_t gfp, Owner owner) {
  Page& page = mm.page(pfn);
  if (mm.cfg.debug_vm && page.refcount != 0)  // set_page_refcounted: VM_BUG_ON_PAGE(page_ref_count)
    bug_on_page(mm, pfn, REPORT_FUNC("prep_new_page"),
                BUG_SITE_IN("set_page_refcounted", "VM_BUG_ON_PAGE(page_ref_count(page))"));
  sched(Op::Write, Access::Write, page_obj(pfn), here());
  page.private_ = 0;  // set_page_private(page, 0)
  page.refcount = 1;  // set_page_refcounted(page)
  page.mapcount = -1;
  page.flags = 0;
  page.mapping = 0;
  for (uint32_t i = 0; i < (1u << order); ++i) {
    Page& p = mm.page(pfn + i);
    p.owner = owner;
    p.order = i ? 0 : uint8_t(order);
    if (gfp & __GFP_ZERO) p.content = 0;  // prep_zero_page
  }
}

// zone_watermark_fast: since f80b08fc4453 an order-0 GFP_ATOMIC allocation that fails the
// boosted min watermark tests it without the boost: the min watermark is the point where
// boosting is ignored so that kswapd is woken up when below the low watermark.
bool zone_watermark_fast(const Mm& mm, const Zone& z, unsigned order, uint64_t mark,
                         unsigned alloc_flags, gfp_t gfp) {
  const int64_t free_pages = int64_t(z.free_pages);
  if (__zone_watermark_ok(mm, z, order, mark, alloc_flags, free_pages)) return true;
  if (mm.cfg.has(Fix::AtomicIgnoresBoost) && !order && (gfp & __GFP_ATOMIC) && z.watermark_boost &&
      (alloc_flags & ALLOC_WMARK_MASK) == ALLOC_WMARK_MIN)
    return __zone_watermark_ok(mm, z, order, z.watermark[size_t(Watermark::Min)], alloc_flags,
                               free_pages);
  return false;
}

// get_page_from_freelist: the first zone of the zonelist whose watermark allows the
// allocation.
Pfn get_page_from_freelist(Mm& mm, unsigned order, unsigned alloc_flags, const AllocContext& ac) {
  MODEL_FUNC("get_page_from_freelist");
retry:
  const bool no_fallback = alloc_flags & ALLOC_NOFRAGMENT;
  for (size_t i = mm.zones.size(); i-- > 0;) {  // highest zone first (one node: no remote zone)
    Zone& z = mm.zones[i];
    if (!zone_allowed(ac.gfp, z)) continue;
    const uint64_t mark = z.wmark_pages(Watermark(alloc_flags & ALLOC_WMARK_MASK));
    if (!zone_watermark_fast(mm, z, order, mark, alloc_flags, ac.gfp)) {
      if (!(alloc_flags & ALLOC_NO_WATERMARKS)) continue;  // zone_reclaim_mode == 0
    }
    // try_this_zone:
    const Pfn page = buffered_rmqueue(mm, z, order, alloc_flags, ac.migratetype);
    if (page != kNoPfn) {
      prep_new_page(mm, page, order, ac.gfp, ac.owner);
      return page;
    }
  }
  // It's possible on a UMA machine to get through all zones that are fragmented. If
  // avoiding fragmentation, reset and try again.
  if (no_fallback) {
    alloc_flags &= ~ALLOC_NOFRAGMENT;
    goto retry;
  }
  return kNoPfn;
}

// alloc_flags_nofragment (6bb154504f8b): ALLOC_NOFRAGMENT when the preferred zone (the
// zonelist's first the gfp allows) is ZONE_NORMAL, on a kernel with CONFIG_ZONE_DMA32 and
// one node (x86_64's). 0a79cdad5eb2 lost the flag; a later repair set it again.
unsigned alloc_flags_nofragment(const Mm& mm, gfp_t gfp) {
  unsigned alloc_flags = 0;
  if (mm.cfg.has(Fix::AllocFlagsKswapd) && (gfp & __GFP_KSWAPD_RECLAIM)) alloc_flags |= ALLOC_KSWAPD;
  if (!mm.cfg.has(Fix::AllocNoFragment)) return alloc_flags;
  if (mm.cfg.has(Fix::AllocFlagsKswapd) && !mm.cfg.has(Fix::AllocNoFragmentRestored)) return alloc_flags;
  for (size_t i = mm.zones.size(); i-- > 0;)
    if (zone_allowed(gfp, mm.zones[i]))
      return mm.zones[i].name == "Normal" ? alloc_flags | ALLOC_NOFRAGMENT : alloc_flags;
  return alloc_flags;
}

// gfp_pfmemalloc_allowed (4.8): may this allocation ignore the watermarks? (No interrupt
// context in the model.)
bool gfp_pfmemalloc_allowed(gfp_t gfp) {
  if (gfp & __GFP_NOMEMALLOC) return false;
  if (gfp & __GFP_MEMALLOC) return true;
  return current_flags() & PF_MEMALLOC;
}

// __alloc_pages_direct_compact (4.8): compaction with PF_MEMALLOC, then one attempt.
Pfn __alloc_pages_direct_compact(Mm& mm, unsigned order, unsigned alloc_flags,
                                 const AllocContext& ac, CompactPriority prio,
                                 CompactResult* compact_result) {
  MODEL_FUNC("__alloc_pages_direct_compact");
  if (!order) return kNoPfn;
  Pfn page = kNoPfn;
  {
    MemallocScope memalloc;  // current->flags |= PF_MEMALLOC
    *compact_result = try_to_compact_pages(mm, ac.gfp, order, alloc_flags, prio, &page);
  }
  // Before "always use a captured page regardless of compaction result", a compaction
  // that was deferred or skipped (COMPACT_INACTIVE) ended here, with a paranoid check
  // that nothing was captured; since, the page a compaction captured anyway (freed from an
  // interrupt) is used, and the freelists are tried after every compaction.
  if (!mm.cfg.has(Fix::CaptureAlwaysUsed) && *compact_result <= CompactResult::Deferred) {
    if (page != kNoPfn)  // WARN_ON_ONCE(page)
      WARN(REPORT_FUNC_HERE(), BUG_SITE("WARN_ON_ONCE(page)"),
           {"a page was captured by a compaction that did not run"});
    return kNoPfn;
  }
  mm.stat(Stat::COMPACTSTALL)++;
  // Prep a captured page if available (5e1f0f098b46).
  if (page != kNoPfn) prep_new_page(mm, page, order, ac.gfp, ac.owner);
  // Try get a page from the freelist if available.
  if (page == kNoPfn) page = get_page_from_freelist(mm, order, alloc_flags, ac);
  if (page != kNoPfn) {
    compaction_defer_reset(mm.zone_of(page), int(order), true);
    mm.stat(Stat::COMPACTSUCCESS)++;
    return page;
  }
  // It's bad if compaction run occurs and fails.
  mm.stat(Stat::COMPACTFAIL)++;
  return kNoPfn;
}

// wake_all_kswapds: wakeup_kswapd() for the first zone of the zonelist the allocation may
// use (the model has one node), with that zone as the classzone (ac->high_zoneidx).
void wake_all_kswapds(Mm& mm, unsigned order, const AllocContext& ac) {
  if (!mm.kswapd.running) return;
  for (size_t i = mm.zones.size(); i-- > 0;)
    if (zone_allowed(ac.gfp, mm.zones[i]))
      return wakeup_kswapd(mm, uint32_t(i), ac.gfp, int(order), int(i));
}

// __alloc_pages_slowpath (4.8), without reclaim and the OOM killer.
Pfn __alloc_pages_slowpath(Mm& mm, unsigned order, const AllocContext& ac) {
  MODEL_FUNC("__alloc_pages_slowpath");
  const bool can_direct_reclaim = ac.gfp & __GFP_DIRECT_RECLAIM;
  CompactPriority compact_priority = DEF_COMPACT_PRIORITY;
  CompactResult compact_result = CompactResult::Skipped;
  // The fast path uses conservative alloc_flags to succeed only until kswapd needs to be
  // woken up, and to avoid the cost of setting up alloc_flags precisely. So we do that now.
  unsigned alloc_flags = gfp_to_alloc_flags(mm, ac.gfp);
  if (ac.gfp & __GFP_KSWAPD_RECLAIM) wake_all_kswapds(mm, order, ac);

  // The adjusted alloc_flags might result in immediate success, so try that first.
  Pfn page = get_page_from_freelist(mm, order, alloc_flags, ac);
  if (page != kNoPfn) return page;

  // For costly allocations, try direct compaction first, as it's likely that we have
  // enough base pages and don't need to reclaim. Since 282722b0d258 non-movable
  // high-order allocations do so too, as compaction will try to prevent permanent
  // fragmentation by migrating from blocks of the same migratetype. Don't try that for
  // allocations that are allowed to ignore watermarks, as the ALLOC_NO_WATERMARKS attempt
  // didn't yet happen.
  const bool costly_order = order > PAGE_ALLOC_COSTLY_ORDER;
  const bool same_mt = mm.cfg.has(Fix::CompactSameMigratetype);
  if (can_direct_reclaim &&
      (costly_order || (same_mt && order > 0 && ac.migratetype != MIGRATE_MOVABLE)) &&
      !gfp_pfmemalloc_allowed(ac.gfp)) {
    page = __alloc_pages_direct_compact(mm, order, alloc_flags, ac, INIT_COMPACT_PRIORITY,
                                        &compact_result);
    if (page != kNoPfn) return page;
    if (costly_order && (ac.gfp & __GFP_NORETRY)) {  // (before 282722b0d258 only costly orders came here)
      // Looks like reclaim/compaction is worth trying, but sync compaction could be very
      // expensive, so keep using async compaction, unless it was deferred.
      if (compact_result == CompactResult::Deferred) return kNoPfn;
      compact_priority = INIT_COMPACT_PRIORITY;
    }
  }

  // retry: ensure kswapd doesn't accidentally go to sleep as long as we loop.
  if (ac.gfp & __GFP_KSWAPD_RECLAIM) wake_all_kswapds(mm, order, ac);
  if (gfp_pfmemalloc_allowed(ac.gfp)) alloc_flags = ALLOC_NO_WATERMARKS;
  page = get_page_from_freelist(mm, order, alloc_flags, ac);
  if (page != kNoPfn) return page;

  // Caller is not willing to reclaim, we can't balance anything.
  if (!can_direct_reclaim) return kNoPfn;
  // Avoid recursion of direct reclaim.
  if (current_flags() & PF_MEMALLOC) return kNoPfn;

  // __alloc_pages_direct_reclaim is not modelled: it makes no progress.
  // Try direct compaction and then allocating.
  page = __alloc_pages_direct_compact(mm, order, alloc_flags, ac, compact_priority,
                                      &compact_result);
  if (page != kNoPfn) return page;

  // should_reclaim_retry and should_compact_retry need reclaim progress, and the OOM
  // killer is not modelled: nopage. warn_alloc_failed() prints, it is not an outcome.
  return kNoPfn;
}

uint64_t int_sqrt(uint64_t x) {
  uint64_t r = 0;
  for (uint64_t bit = uint64_t(1) << 62; bit; bit >>= 2) {
    if (x >= r + bit) {
      x -= r + bit;
      r = (r >> 1) + bit;
    } else {
      r >>= 1;
    }
  }
  return r;
}

// mult_frac(x, numer, denom) without overflow.
uint64_t mult_frac(uint64_t x, uint64_t numer, uint64_t denom) {
  return (x / denom) * numer + ((x % denom) * numer) / denom;
}

// init_per_zone_wmark_min + __setup_per_zone_wmarks (4.8):
//   min_free_kbytes = int_sqrt(lowmem_kbytes * 16), clamped to [128, 65536], where
//     lowmem_kbytes counts the zones GFP_USER may use (all but "Movable");
//   each zone's min is its managed share of min_free_kbytes (in pages);
//   low = min + d, high = min + 2d with d = max(min / 4, managed * 10 / 10000)
//     (watermark_scale_factor 10), i.e. about min*5/4 and min*3/2 for small zones.
void setup_per_zone_wmarks(Mm& mm) {
  uint64_t lowmem_kbytes = 0, lowmem_pages = 0;
  for (const Zone& z : mm.zones) {
    if (z.name != "Movable") lowmem_kbytes += z.managed_pages * 4;  // nr_free_buffer_pages
    lowmem_pages += z.managed_pages;                                 // !is_highmem(zone)
  }
  const uint64_t min_free_kbytes = std::clamp<uint64_t>(int_sqrt(lowmem_kbytes * 16), 128, 65536);
  const uint64_t pages_min = min_free_kbytes >> 2;  // >> (PAGE_SHIFT - 10)
  for (Zone& z : mm.zones) {
    uint64_t tmp = pages_min * z.managed_pages / lowmem_pages;
    z.watermark[size_t(Watermark::Min)] = tmp;
    tmp = std::max(tmp >> 2, mult_frac(z.managed_pages, watermark_scale_factor, 10000));
    z.watermark[size_t(Watermark::Low)] = z.watermark[size_t(Watermark::Min)] + tmp;
    z.watermark[size_t(Watermark::High)] = z.watermark[size_t(Watermark::Min)] + tmp * 2;
  }
}

// mm/vmstat.c
struct contig_page_info {
  uint64_t free_pages = 0;
  uint64_t free_blocks_total = 0;
  uint64_t free_blocks_suitable = 0;
};

contig_page_info fill_contig_page_info(const Zone& z, unsigned suitable_order) {
  sched(Op::Read, Access::Read, z.lock.id, here());
  contig_page_info info;
  for (unsigned order = 0; order < unsigned(MAX_ORDER); ++order) {
    const uint64_t blocks = z.free_area[order].nr_free;  // count number of free blocks
    info.free_blocks_total += blocks;
    info.free_pages += blocks << order;  // count free base pages
    if (order >= suitable_order)         // count the suitable free blocks
      info.free_blocks_suitable += blocks << (order - suitable_order);
  }
  return info;
}

void check_zone(const Mm& mm, const Zone& z, const char* fn) {
  if (z.id >= mm.zones.size() || z.free_area[0].free_list[0] >= mm.lists.size())
    throw UsageError(std::string(fn) + ": the zone is not one of this Mm's zones");
}

void check_order(unsigned order, const char* fn) {
  if (order >= unsigned(MAX_ORDER))
    throw UsageError(std::string(fn) + ": order " + std::to_string(order) +
                     " is not below MAX_ORDER (" + std::to_string(MAX_ORDER) + ")");
}

}  // namespace

// ---- gfp ----

int gfpflags_to_migratetype(gfp_t gfp) {
  constexpr gfp_t GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE;
  // VM_BUG_ON((gfp_flags & GFP_MOVABLE_MASK) == GFP_MOVABLE_MASK)
  if ((gfp & GFP_MOVABLE_MASK) == GFP_MOVABLE_MASK)
    throw UsageError("gfp " + gfp_names(gfp) +
                     ": __GFP_MOVABLE and __GFP_RECLAIMABLE are mutually exclusive");
  if (gfp & __GFP_MOVABLE) return MIGRATE_MOVABLE;
  if (gfp & __GFP_RECLAIMABLE) return MIGRATE_RECLAIMABLE;
  return MIGRATE_UNMOVABLE;
}

// gfp_to_alloc_flags (4.8), without cpusets and rt tasks (ALLOC_NO_WATERMARKS is the
// slowpath's, from gfp_pfmemalloc_allowed).
unsigned gfp_to_alloc_flags(const Mm& mm, gfp_t gfp) {
  unsigned alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET;
  // __GFP_HIGH is the same bit as ALLOC_HIGH.
  alloc_flags |= gfp & __GFP_HIGH;
  if (gfp & __GFP_ATOMIC) {
    if (!(gfp & __GFP_NOMEMALLOC)) alloc_flags |= ALLOC_HARDER;
    alloc_flags &= ~ALLOC_CPUSET;
  }
  if (mm.cfg.has(Fix::AllocFlagsKswapd) && (gfp & __GFP_KSWAPD_RECLAIM)) alloc_flags |= ALLOC_KSWAPD;
  if (gfpflags_to_migratetype(gfp) == MIGRATE_MOVABLE) alloc_flags |= ALLOC_CMA;
  return alloc_flags;
}

// show_gfp_flags / %pGg: composite names first (__def_gfpflag_names order), then bits.
std::string gfp_names(gfp_t gfp) {
  static const struct {
    gfp_t mask;
    const char* name;
  } names[] = {
      {GFP_TRANSHUGE, "GFP_TRANSHUGE"},
      {GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"},
      {GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"},
      {GFP_HIGHUSER, "GFP_HIGHUSER"},
      {GFP_USER, "GFP_USER"},
      {GFP_TEMPORARY, "GFP_TEMPORARY"},
      {GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"},
      {GFP_KERNEL, "GFP_KERNEL"},
      {GFP_NOFS, "GFP_NOFS"},
      {GFP_ATOMIC, "GFP_ATOMIC"},
      {GFP_NOIO, "GFP_NOIO"},
      {GFP_NOWAIT, "GFP_NOWAIT"},
      {GFP_DMA, "GFP_DMA"},
      {__GFP_HIGHMEM, "__GFP_HIGHMEM"},
      {GFP_DMA32, "GFP_DMA32"},
      {__GFP_HIGH, "__GFP_HIGH"},
      {__GFP_ATOMIC, "__GFP_ATOMIC"},
      {__GFP_IO, "__GFP_IO"},
      {__GFP_FS, "__GFP_FS"},
      {__GFP_COLD, "__GFP_COLD"},
      {__GFP_NOWARN, "__GFP_NOWARN"},
      {__GFP_REPEAT, "__GFP_REPEAT"},
      {__GFP_NOFAIL, "__GFP_NOFAIL"},
      {__GFP_NORETRY, "__GFP_NORETRY"},
      {__GFP_COMP, "__GFP_COMP"},
      {__GFP_ZERO, "__GFP_ZERO"},
      {__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"},
      {__GFP_MEMALLOC, "__GFP_MEMALLOC"},
      {__GFP_HARDWALL, "__GFP_HARDWALL"},
      {__GFP_THISNODE, "__GFP_THISNODE"},
      {__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"},
      {__GFP_MOVABLE, "__GFP_MOVABLE"},
      {__GFP_ACCOUNT, "__GFP_ACCOUNT"},
      {__GFP_NOTRACK, "__GFP_NOTRACK"},
      {__GFP_WRITE, "__GFP_WRITE"},
      {__GFP_RECLAIM, "__GFP_RECLAIM"},
      {__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"},
      {__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"},
      {__GFP_OTHER_NODE, "__GFP_OTHER_NODE"},
  };
  if (!gfp) return "none";
  std::string s;
  for (const auto& n : names) {
    if ((gfp & n.mask) != n.mask) continue;
    if (!s.empty()) s += '|';
    s += n.name;
    gfp &= ~n.mask;
    if (!gfp) break;
  }
  if (gfp) s += (s.empty() ? "" : "|") + hex(gfp);
  return s;
}

// ---- set-up ----

void init_memory(Mm& mm, const std::vector<ZoneSpec>& specs) {
  if (!mm.pages.empty() || !mm.zones.empty())
    throw UsageError("init_memory: memory is already initialised (" +
                     std::to_string(mm.pages.size()) + " pages)");
  if (specs.empty()) throw UsageError("init_memory: no zones given");
  uint64_t total = 0;
  for (const ZoneSpec& s : specs) {
    if (s.pages == 0 || s.pages % pageblock_nr_pages != 0)
      throw UsageError("init_memory: zone '" + s.name + "' has " + std::to_string(s.pages) +
                       " pages; a zone's size must be a non-zero multiple of pageblock_nr_pages (" +
                       std::to_string(pageblock_nr_pages) + " pages)");
    if (s.initial_mt >= MIGRATE_TYPES || s.initial_mt == MIGRATE_HIGHATOMIC ||
        s.initial_mt == MIGRATE_ISOLATE)
      throw UsageError("init_memory: zone '" + s.name + "': initial migratetype " +
                       migratetype_name(s.initial_mt) +
                       " is not one pageblocks can start with (Unmovable, Movable, "
                       "Reclaimable or CMA)");
    total += s.pages;
  }
  if (total >= kNoPfn) throw UsageError("init_memory: too many pages");

  static const char* const lru_names[4] = {"inactive_anon", "active_anon", "inactive_file",
                                           "active_file"};
  mm.pages.assign(total, Page{});  // mem_map: every page refcount 0, mapcount -1
  mm.zones.reserve(specs.size());
  Pfn start = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const ZoneSpec& s = specs[i];
    Zone z;
    z.name = s.name;
    z.id = uint32_t(i);
    z.zone_start_pfn = start;
    z.spanned_pages = s.pages;
    z.managed_pages = s.pages;
    z.lock.id = make_obj(objclass::kZone, i);
    z.lru_lock.id = make_obj(objclass::kLruLock, i);
    for (int order = 0; order < MAX_ORDER; ++order)
      for (int mt = 0; mt < MIGRATE_TYPES; ++mt)
        z.free_area[order].free_list[mt] =
            new_list(mm, "free_area[" + std::to_string(order) + "][" + migratetype_name(mt) +
                             "] " + s.name);
    for (int l = 0; l < 4; ++l)
      z.lru[l] = new_list(mm, std::string("lru:") + lru_names[l] + " " + s.name);
    z.pageblock_mt.assign(s.pages / pageblock_nr_pages, uint8_t(s.initial_mt));
    // reset_cached_positions
    z.compact_cached_migrate_pfn = start;
    z.compact_cached_free_pfn = start + s.pages - pageblock_nr_pages;  // last pageblock
    mm.zones.push_back(std::move(z));
    start += s.pages;
  }
  setup_per_zone_wmarks(mm);

  // free_all_bootmem: every page goes to the buddy allocator in the largest naturally
  // aligned blocks, in ascending pfn order (so the highest block ends up first on its
  // list, as after boot).
  for (Zone& z : mm.zones) {
    for (Pfn pfn = z.zone_start_pfn; pfn < z.end_pfn();) {
      unsigned order = MAX_ORDER - 1;
      while ((pfn & ((1u << order) - 1)) || uint64_t(pfn) + (1u << order) > z.end_pfn()) order--;
      __free_one_page(mm, pfn, z, order, get_pfnblock_migratetype(z, pfn));
      pfn += 1u << order;
    }
  }
}

// ---- allocation and free ----

Pfn alloc_pages(Mm& mm, gfp_t gfp, unsigned order, Owner owner) {
  MODEL_FUNC("alloc_pages");
  // 4.8 warns and returns NULL; asking for it is a scenario error here.
  check_order(order, "alloc_pages");
  if (mm.zones.empty())
    throw UsageError("alloc_pages: no memory (init_memory has not been called)");
  const AllocContext ac{gfp, gfpflags_to_migratetype(gfp), owner};

  // __alloc_pages_nodemask: the fast path checks the low watermark.
  unsigned alloc_flags = ALLOC_WMARK_LOW;
  if (ac.migratetype == MIGRATE_MOVABLE) alloc_flags |= ALLOC_CMA;
  // Forbid the first pass from falling back to types that fragment memory until all
  // local zones are considered.
  alloc_flags |= alloc_flags_nofragment(mm, ac.gfp);
  const Pfn page = get_page_from_freelist(mm, order, alloc_flags, ac);
  if (page != kNoPfn) return page;
  return __alloc_pages_slowpath(mm, order, ac);
}

void __free_pages(Mm& mm, Pfn pfn, unsigned order) {
  MODEL_FUNC("__free_pages");
  Zone& z = check_block(mm, pfn, order, "__free_pages");
  Page& page = mm.page(pfn);
  const ObjId obj = page_obj(pfn);
  // put_page_testzero: VM_BUG_ON_PAGE(page_ref_count(page) == 0, page)
  if (atomic_read(page.refcount, obj) == 0)
    return free_of_free_page(mm, pfn, order, already_free(mm, pfn, order), "__free_pages", true);
  if (Pfn f = already_free(mm, pfn, order); f != kNoPfn)
    return free_of_free_page(mm, pfn, order, f, "__free_pages", false);
  if (page.refcount == 1) check_not_listed(mm, pfn, "__free_pages");
  if (atomic_add_return(int32_t(-1), page.refcount, obj) == 0) __free_pages_ok(mm, z, pfn, order);
}

void free_pages_zero_ref(Mm& mm, Pfn pfn, unsigned order) {
  MODEL_FUNC("free_pages_zero_ref");
  Zone& z = check_block(mm, pfn, order, "free_pages_zero_ref");
  if (Pfn f = already_free(mm, pfn, order); f != kNoPfn)
    return free_of_free_page(mm, pfn, order, f, "free_pages_zero_ref", false);
  check_not_listed(mm, pfn, "free_pages_zero_ref");
  __free_pages_ok(mm, z, pfn, order);
}

// ---- buddy helpers for compaction ----

bool PageBuddy(const Mm& mm, Pfn pfn) {
  check_pfn(mm, pfn, "PageBuddy");
  sched(Op::AtomicRead, Access::Read, page_obj(pfn), here());
  return page_buddy_locked(mm.page(pfn));
}

unsigned page_order(const Mm& mm, Pfn pfn) {
  check_pfn(mm, pfn, "page_order");
  sched(Op::Read, Access::Read, page_obj(pfn), here());
  return unsigned(mm.page(pfn).private_);
}

unsigned __isolate_free_page(Mm& mm, Pfn pfn, unsigned order) {
  MODEL_FUNC("__isolate_free_page");
  Zone& z = check_block(mm, pfn, order, "__isolate_free_page");
  const Page& page = mm.page(pfn);
  if (!page_buddy_locked(page))
    BUG(REPORT_FUNC("__isolate_free_page"), BUG_SITE("BUG_ON(!PageBuddy(page))"), {dump_page(mm, pfn)});
  if (page.private_ != order)  // the kernel trusts the caller's page_order(page)
    BUG(REPORT_FUNC("__isolate_free_page"),
        "order " + std::to_string(order) + " is not page_order(page) " +
            std::to_string(page.private_),
        {dump_page(mm, pfn)});

  const int mt = get_pfnblock_migratetype(z, pfn);
  if (mt != MIGRATE_ISOLATE) {
    // Obey watermarks as if the page was being allocated: the low one, or since
    // 8348faf91f56 the min one (compaction's free scanner may go down to it); boosted, or
    // since "ignore the fragmentation avoidance boost for isolation" not.
    const Watermark base = mm.cfg.has(Fix::CompactionMinWatermark) ? Watermark::Min : Watermark::Low;
    const uint64_t mark = mm.cfg.has(Fix::BoostIgnoredForIsolation) ? z.watermark[size_t(base)]
                                                                    : z.wmark_pages(base);
    const uint64_t watermark = mark + (uint64_t(1) << order);
    if (!__zone_watermark_ok(mm, z, 0, watermark, 0, int64_t(z.free_pages))) return 0;
    __mod_zone_freepage_state(mm, z, -(int64_t(1) << order));
  }

  // Remove page from free list.
  list_del(mm, pfn, here());
  z.free_area[order].nr_free--;
  rmv_page_order(mm, pfn);

  // Set the pageblock if the isolated page is at least a pageblock.
  if (order >= unsigned(pageblock_order) - 1) {
    const Pfn endpage = pfn + (1u << order) - 1;
    for (Pfn p = pfn; p < endpage; p += pageblock_nr_pages) {
      const int pmt = get_pfnblock_migratetype(z, p);
      if (pmt != MIGRATE_ISOLATE && pmt != MIGRATE_CMA)
        set_pageblock_migratetype(mm, p, MIGRATE_MOVABLE);
    }
  }
  return 1u << order;
}

void split_free_block(Mm& mm, Pfn pfn, unsigned order, Owner owner) {
  MODEL_FUNC("split_page");
  check_block(mm, pfn, order, "split_free_block");
  const uint32_t nr = 1u << order;
  for (uint32_t i = 0; i < nr; ++i) {
    const Page& p = mm.page(pfn + i);
    if (page_buddy_locked(p) || p.refcount != 0) {
      const std::string msg = "pfn " + std::to_string(pfn + i) +
                              (page_buddy_locked(p) ? " is still in the buddy allocator"
                                                    : " has a nonzero refcount") +
                              " (split_free_block wants a block taken by __isolate_free_page)";
      if (!in_task()) throw UsageError("split_free_block: " + msg);
      bug_on_page(mm, pfn + i, REPORT_FUNC("split_page"),
                  BUG_SITE_IN("set_page_refcounted", "VM_BUG_ON_PAGE(page_ref_count(page))"),
                  {msg});
    }
  }
  // post_alloc_hook(page, order, __GFP_MOVABLE) + split_page(page, order): every page
  // an order-0 page with a reference.
  for (uint32_t i = 0; i < nr; ++i) {
    Page& p = mm.page(pfn + i);
    sched(Op::Write, Access::Write, page_obj(pfn + i), here());
    p.order = 0;
    p.private_ = 0;
    p.refcount = 1;  // set_page_refcounted
    p.owner = owner;
  }
}

int get_pageblock_migratetype(const Mm& mm, Pfn pfn) {
  check_pfn(mm, pfn, "get_pageblock_migratetype");
  const Zone* z = find_zone(mm, pfn);
  if (!z)
    throw UsageError("get_pageblock_migratetype: pfn " + std::to_string(pfn) +
                     " is outside every zone");
  return get_pfnblock_migratetype(*z, pfn);
}

void set_pageblock_migratetype(Mm& mm, Pfn pfn, int mt) {
  if (mt < 0 || mt >= MIGRATE_TYPES)
    throw UsageError("set_pageblock_migratetype: " + std::to_string(mt) + " is not a migratetype");
  check_pfn(mm, pfn, "set_pageblock_migratetype");
  Zone& z = zone_of_checked(mm, pfn, "set_pageblock_migratetype");
  z.pageblock_mt[pageblock_index(z, pfn)] = uint8_t(mt);
}

int find_suitable_fallback(const Mm& mm, const FreeArea& area, unsigned order, int migratetype,
                           bool only_stealable, bool* can_steal) {
  if (area.nr_free == 0) return -1;
  *can_steal = false;
  if (migratetype < 0 || migratetype >= MIGRATE_TYPES) return -1;
  for (int i = 0;; i++) {
    const int fallback_mt = fallbacks[migratetype][i];
    if (fallback_mt == MIGRATE_TYPES) break;
    if (list_empty(mm, area.free_list[fallback_mt])) continue;
    if (can_steal_fallback(order, migratetype)) *can_steal = true;
    if (!only_stealable) return fallback_mt;
    if (*can_steal) return fallback_mt;
  }
  return -1;
}

int move_freepages_block(Mm& mm, Zone& z, Pfn pfn, int migratetype, int* num_movable) {
  if (migratetype < 0 || migratetype >= MIGRATE_TYPES)
    throw UsageError("move_freepages_block: " + std::to_string(migratetype) +
                     " is not a migratetype");
  Pfn start_pfn = pfn & ~(pageblock_nr_pages - 1);
  const Pfn end_pfn = start_pfn + pageblock_nr_pages - 1;
  // Do not cross zone boundaries.
  if (!z.contains(start_pfn)) start_pfn = pfn;
  if (!z.contains(end_pfn)) return 0;
  return move_freepages(mm, z, start_pfn, end_pfn, migratetype, num_movable);
}

// ---- watermarks ----

bool __zone_watermark_ok(const Mm& mm, const Zone& z, unsigned order, uint64_t mark,
                         unsigned alloc_flags, int64_t free_pages) {
  sched(Op::Read, Access::Read, z.lock.id, here());  // zone_page_state() and the free areas
  int64_t min = int64_t(mark);
  const bool alloc_harder = alloc_flags & ALLOC_HARDER;

  // free_pages may go negative - that's OK.
  free_pages -= (int64_t(1) << order) - 1;
  if (alloc_flags & ALLOC_HIGH) min -= min / 2;
  // Without ALLOC_HARDER the high-order atomic reserve (none in the model) is not usable.
  if (alloc_harder) min -= min / 4;
  // If the allocation can't use CMA areas, don't count free CMA pages.
  if (!(alloc_flags & ALLOC_CMA)) free_pages -= nr_free_cma_pages(mm, z);

  // Check watermarks for an order-0 allocation request. If these are not met, a
  // high-order request cannot go ahead even if a suitable page happened to be free.
  if (free_pages <= min) return false;  // + z->lowmem_reserve[classzone_idx]: none
  if (!order) return true;

  // For a high-order request, check at least one suitable page is free.
  for (unsigned o = order; o < unsigned(MAX_ORDER); o++) {
    const FreeArea& area = z.free_area[o];
    if (!area.nr_free) continue;
    if (alloc_harder) return true;
    for (int mt = 0; mt < MIGRATE_HIGHATOMIC; mt++)  // MIGRATE_PCPTYPES
      if (!list_empty(mm, area.free_list[mt])) return true;
    if ((alloc_flags & ALLOC_CMA) && !list_empty(mm, area.free_list[MIGRATE_CMA])) return true;
  }
  return false;
}

bool zone_watermark_ok(const Mm& mm, const Zone& z, unsigned order, uint64_t mark,
                       unsigned alloc_flags) {
  check_order(order, "zone_watermark_ok");
  return __zone_watermark_ok(mm, z, order, mark, alloc_flags, int64_t(z.free_pages));
}

bool zone_watermark_ok(const Mm& mm, const Zone& z, unsigned order, Watermark mark) {
  return zone_watermark_ok(mm, z, order, z.wmark_pages(mark), 0);
}

// ---- fragmentation metrics (mm/vmstat.c) ----

std::vector<uint64_t> free_blocks_per_order(const Mm& mm, const Zone& z) {
  check_zone(mm, z, "free_blocks_per_order");
  std::vector<uint64_t> v(MAX_ORDER);
  for (int o = 0; o < MAX_ORDER; ++o) v[o] = z.free_area[o].nr_free;
  return v;
}

// unusable_free_index: the share of free memory that cannot serve an order-`order`
// request, 0..1000 (/sys/kernel/debug/extfrag/unusable_index prints it as 0.000..1.000).
int unusable_free_index(const Mm& mm, const Zone& z, unsigned order) {
  check_zone(mm, z, "unusable_free_index");
  check_order(order, "unusable_free_index");
  const contig_page_info info = fill_contig_page_info(z, order);
  // No free memory is interpreted as all free memory is unusable.
  if (info.free_pages == 0) return 1000;
  return int((info.free_pages - (info.free_blocks_suitable << order)) * 1000 / info.free_pages);
}

// __fragmentation_index: -1000 when the request would succeed; otherwise towards 0 the
// failure is from lack of memory, towards 1000 from fragmentation.
int fragmentation_index(const Mm& mm, const Zone& z, unsigned order) {
  check_zone(mm, z, "fragmentation_index");
  check_order(order, "fragmentation_index");
  const contig_page_info info = fill_contig_page_info(z, order);
  const uint64_t requested = uint64_t(1) << order;
  if (!info.free_blocks_total) return 0;
  // Fragmentation index only makes sense when a request would fail.
  if (info.free_blocks_suitable) return -1000;
  return int(1000 - (1000 + info.free_pages * 1000 / requested) / info.free_blocks_total);
}

}  // namespace pagesim::mm
