#include "mm/compaction.h"

#include <algorithm>
#include <string>

#include "engine/objclass.h"
#include "mm/current.h"
#include "mm/lru.h"
#include "mm/page_ops.h"
#include "mm/vmscan.h"
#include "mm/vmstat.h"

namespace pagesim::mm {

const char* compact_result_name(CompactResult r) {
  static const char* const names[] = {"not_suitable_zone", "skipped",  "deferred",
                                      "no_suitable_page",  "continue", "complete",
                                      "partial_skipped",   "contended", "success"};
  return names[size_t(r)];
}

namespace {

Pfn pageblock_start_pfn(Pfn pfn) { return pfn & ~(pageblock_nr_pages - 1); }
Pfn pageblock_end_pfn(Pfn pfn) { return pageblock_start_pfn(pfn) + pageblock_nr_pages; }
bool pageblock_aligned(Pfn pfn) { return !(pfn % pageblock_nr_pages); }

constexpr Nanos kHz10 = 100'000'000;  // HZ/10 jiffies: 100 ms

// block_end_pfn(pfn, order): the end of the order-aligned block holding pfn.
Pfn block_end_pfn(Pfn pfn, int order) { return (pfn | ((Pfn(1) << order) - 1)) + 1; }

// The gfp_mask of compaction no allocation asked for (compact_node, kcompactd,
// alloc_contig_range): 73e64c51afc5 gave it GFP_KERNEL, for its GFP_NOFS check; before,
// nothing read it there.
gfp_t background_gfp(const Mm& mm) { return mm.cfg.has(Fix::CompactionGfpNofs) ? GFP_KERNEL : 0; }

bool compact_scanners_met(const compact_control& cc) {
  return (cc.free_pfn >> pageblock_order) <= (cc.migrate_pfn >> pageblock_order);
}

// fdd048e12c9a: direct async compaction gives up an order-aligned block where it fails
// to isolate or to migrate a page: it could not form the cc->order buddy page there.
bool skips_failed_blocks(const Mm& mm, const compact_control& cc) {
  return mm.cfg.has(Fix::SkipOnFailure) && cc.direct_compaction && cc.mode == MigrateMode::Async;
}

// The watermark a zone must meet for the order to count as compacted enough: the
// allocation's since 4.9's "use correct watermark when checking compaction success", the
// low one before.
Watermark success_watermark(const Mm& mm, unsigned alloc_flags) {
  return mm.cfg.has(Fix::CompactionAllocWatermark) ? Watermark(alloc_flags & ALLOC_WMARK_MASK)
                                                   : Watermark::Low;
}

bool is_migrate_movable(int mt) { return mt == MIGRATE_MOVABLE || mt == MIGRATE_CMA; }

// suitable_migration_source: a pageblock the migrate scanner may isolate from. Async
// compaction keeps to movable and CMA pageblocks; since 282722b0d258 async direct
// compaction keeps to the allocation's migratetype, where a non-movable allocation can
// succeed without a fallback (the later sync attempt scans every pageblock).
bool suitable_migration_source(Mm& mm, const compact_control& cc, Pfn pfn) {
  if (!mm.cfg.has(Fix::CompactSameMigratetype))
    return cc.mode != MigrateMode::Async || is_migrate_movable(get_pageblock_migratetype(mm, pfn));
  if (cc.mode != MigrateMode::Async || !cc.direct_compaction) return true;
  const int block_mt = get_pageblock_migratetype(mm, pfn);
  if (cc.migratetype == MIGRATE_MOVABLE) return is_migrate_movable(block_mt);
  return block_mt == cc.migratetype;
}

// suitable_migration_target: a pageblock the free scanner may take pages from.
bool suitable_migration_target(Mm& mm, Pfn pfn) {
  // If the page is a large free page, then disallow migration.
  if (PageBuddy(mm, pfn) && page_order(mm, pfn) >= unsigned(pageblock_order)) return false;
  // If the block is MIGRATE_MOVABLE or MIGRATE_CMA, allow migration.
  return is_migrate_movable(get_pageblock_migratetype(mm, pfn));
}

// Since cb2dcaf023c2 async compaction finishes its pageblock when a lock is contended;
// before, it stopped at once.
bool finishes_on_contention(const Mm& mm) { return mm.cfg.has(Fix::CompactFinishOnContention); }
bool stops_on_contention(const Mm& mm, const compact_control& cc) {
  return cc.contended && !finishes_on_contention(mm);
}

// compact_lock_irqsave: the coarse locks compaction takes may be heavily contended. Sync
// compaction spins on them. Async compaction trylocks: before cb2dcaf023c2
// (compact_trylock_irqsave) it backs out of a lock it cannot take at once
// (cc->contended, and the scanner stops, false); since, it records the contention and
// takes the lock anyway, and compaction aborts when the current pageblock is finished.
bool compact_lock_irqsave(const Mm& mm, SpinLock& lock, compact_control& cc) {
  const bool finish = finishes_on_contention(mm);
  if (cc.mode == MigrateMode::Async && !(finish && cc.contended)) {
    if (spin_trylock_irqsave(lock)) return true;
    cc.contended = true;
    if (!finish) return false;
  }
  spin_lock_irqsave(lock);
  return true;
}

// Before 6afcf8ef0ca0 the whole isolated list was accounted at once (acct_isolated),
// non-LRU pages included.
void acct_isolated(Mm& mm, compact_control& cc) {
  if (mm.cfg.has(Fix::NrIsolatedLruOnly) || list_empty(mm, cc.migratepages)) return;
  int64_t count[2] = {0, 0};
  for (Pfn p = mm.lists[cc.migratepages].first; p != kNoPfn; p = mm.page(p).lru_next)
    count[nr_isolated_stat(mm, p) == Stat::NR_ISOLATED_FILE]++;
  mod_node_page_state(mm, Stat::NR_ISOLATED_ANON, count[0]);
  mod_node_page_state(mm, Stat::NR_ISOLATED_FILE, count[1]);
}

// Similar to reclaim's, but different enough that they don't share logic. The six reads
// are one scheduling point: an update between two of them is not told apart.
bool too_many_isolated(Mm& mm, const compact_control& cc) {
  sched(Op::Read, Access::Read, vmstat_obj(), here());
  uint64_t inactive = node_page_state(mm, Stat::NR_INACTIVE_FILE) +
                      node_page_state(mm, Stat::NR_INACTIVE_ANON);
  uint64_t active = node_page_state(mm, Stat::NR_ACTIVE_FILE) +
                    node_page_state(mm, Stat::NR_ACTIVE_ANON);
  // 4fbbb3fde3c6: allow GFP_NOFS to isolate past the limit set for regular compaction
  // runs. This prevents an ABBA deadlock when other compactors have already isolated to
  // the limit, but are blocked on filesystem locks held by the GFP_NOFS thread.
  if (mm.cfg.has(Fix::CompactionFsThrottle) && (cc.gfp_mask & __GFP_FS)) {
    inactive >>= 3;
    active >>= 3;
  }
  const uint64_t isolated = node_page_state(mm, Stat::NR_ISOLATED_FILE) +
                            node_page_state(mm, Stat::NR_ISOLATED_ANON);
  // d818fca1cac3: a count found low also wakes the tasks in reclaim_throttle()
  // (wake_throttle_isolated); the model's throttled tasks wait for the count itself.
  return isolated > (inactive + active) / 2;
}

// congestion_wait(BLK_RW_ASYNC, HZ/10): sleeps until a congested backing device clears
// or the timeout passes. The model has no backing devices, so each wait is its timeout;
// the caller looks at too_many_isolated() again after it (poll_sleep).
void congestion_wait(Nanos timeout) {
  MODEL_FUNC("congestion_wait");
  poll_sleep(vmstat_obj(), timeout, "congestion_wait (too_many_isolated)");
}

// The racy checks before an LRU page is isolated; `own_ref` is the reference the scanner
// already holds (829ae0f81ce0).
bool worth_isolating(Mm& mm, const compact_control& cc, Pfn page, int own_ref) {
  // Migration will fail if an anonymous page is pinned in memory, so avoid taking
  // lru_lock and isolating it unnecessarily in an admittedly racy check.
  const uint32_t mapping = page_mapping(mm, page);
  if (!mapping && page_count(mm, page) - own_ref > page_mapcount(mm, page)) return false;
  // 73e64c51afc5: only allow to migrate anonymous pages in GFP_NOFS context because
  // those do not depend on fs locks. (page_mapping() is read again before 89f6c88a6ab4.)
  if (!mm.cfg.has(Fix::CompactionGfpNofs) || (cc.gfp_mask & __GFP_FS)) return true;
  return !(mm.cfg.has(Fix::IsolateChecksInline) ? mapping : page_mapping(mm, page));
}

}  // namespace

Pfn isolate_migratepages_block(Mm& mm, compact_control& cc, Pfn low_pfn, Pfn end_pfn,
                               isolate_mode_t mode) {
  MODEL_FUNC("isolate_migratepages_block");
  Zone& zone = mm.zones[cc.zone];
  bool locked = false;
  uint64_t nr_scanned = 0;
  uint32_t nr_isolated = 0;
  end_pfn = std::min(end_pfn, cc.range_end);
  // Ensure that there are not too many pages isolated from the LRU list by either
  // parallel reclaimers or compaction. If there are, delay for some time until fewer
  // pages are isolated. (fatal_signal_pending: the model sends no signals.)
  while (too_many_isolated(mm, cc)) {
    // d20bdd571ee5: stop isolation if there are still pages not migrated (they would
    // otherwise be counted against the isolation that waits for them)
    if (mm.cfg.has(Fix::IsolationStopsWithPagesToMigrate) && cc.nr_migratepages) return 0;
    // async migration should just abort
    if (cc.mode == MigrateMode::Async) return 0;
    if (mm.cfg.has(Fix::ReclaimThrottleIsolated))
      reclaim_throttle(mm);
    else
      congestion_wait(kHz10);
  }
  // Direct async compaction gives up an order-aligned block at its first page that
  // cannot be isolated.
  const bool skip_on_failure = skips_failed_blocks(mm, cc);
  Pfn next_skip_pfn = skip_on_failure ? block_end_pfn(low_pfn, cc.order) : 0;

  for (; low_pfn < end_pfn; low_pfn++) {
    if (skip_on_failure && low_pfn >= next_skip_pfn) {
      // All candidates of the previous order-aligned block are isolated and it was not
      // skipped for a failure: migrate them now.
      if (nr_isolated) break;
      // It failed: the new boundary is the end of the current block (low_pfn may have
      // skipped a high-order buddy or compound page).
      next_skip_pfn = block_end_pfn(low_pfn, cc.order);
    }
    // Periodically drop the lru lock (compact_unlock_should_abort; need_resched and
    // fatal signals are not modelled).
    if (!(low_pfn % COMPACT_CLUSTER_MAX) && locked) {
      spin_unlock_irqrestore(zone.lru_lock);
      locked = false;
    }
    nr_scanned++;
    const Pfn page = low_pfn;

    // Skip free pages: the order is read without the zone lock, so it may be bogus;
    // only a plausible one is used to skip ahead.
    if (PageBuddy(mm, page)) {
      const unsigned order = mm.page(page).private_;
      if (order > 0 && order < unsigned(MAX_ORDER)) low_pfn += (1u << order) - 1;
      continue;
    }
    // Compound pages (THP, hugetlbfs) are not compacted.
    if (PageCompound(mm, page)) goto isolate_fail;

    // Non-LRU pages: only non-LRU movable pages may be isolated.
    if (!PageLRU(mm, page)) {
      // Before b1123ea6d3b3 balloon pages had hooks of their own, called with the
      // lru_lock still held if the scanner has it.
      if (balloon_page_movable(mm, page) && balloon_hooks(mm).isolate(mm, page))
        goto isolate_success;
      // __PageMovable can return a false positive so it is verified under the page lock
      // by isolate_movable_page.
      // Before bda807d44454 every non-LRU page was unmovable here.
      if (mm.cfg.has(Fix::NonLruMigration) && __PageMovable(mm, page) && !PageIsolated(mm, page)) {
        if (locked) {
          spin_unlock_irqrestore(zone.lru_lock);
          locked = false;
        }
        if (isolate_movable_page(mm, page, mode)) goto isolate_success;
      }
      goto isolate_fail;
    }

    if (mm.cfg.has(Fix::LruIsolateBeforeLock)) {
      // 9df41314390b: the page is isolated before the LRU lock. Be careful not to clear
      // PageLRU until after we're sure the page is not being freed elsewhere -- the
      // page release code relies on it. 829ae0f81ce0 takes that reference first.
      const bool ref_first = mm.cfg.has(Fix::LruRefBeforePinnedCheck);
      if (ref_first && !get_page_unless_zero(mm, page)) goto isolate_fail;
      if (!worth_isolating(mm, cc, page, ref_first)) {
        if (ref_first) goto isolate_fail_put;
        goto isolate_fail;
      }
      if (!ref_first && !get_page_unless_zero(mm, page)) goto isolate_fail;
      // Only take pages on LRU: a check now makes later tests safe.
      if (!PageLRU(mm, page)) goto isolate_fail_put;
      // Compaction might skip unevictable pages but CMA takes them. Since 89f6c88a6ab4 the
      // mode comes first: compaction (ISOLATE_UNEVICTABLE) does not read the flag.
      const bool skip_unevictable = !(mode & ISOLATE_UNEVICTABLE);
      if (mm.cfg.has(Fix::IsolateChecksInline) ? skip_unevictable && PageUnevictable(mm, page)
                                                 : PageUnevictable(mm, page) && skip_unevictable)
        goto isolate_fail_put;
      // Try isolate the page: of the isolations racing for it, one clears PG_lru.
      if (!TestClearPageLRU(mm, page)) goto isolate_fail_put;
      // If we already hold the lock, we can skip some rechecking. (compact_lock_irqsave
      // always takes it since cb2dcaf023c2.)
      if (!locked) locked = compact_lock_irqsave(mm, zone.lru_lock, cc);
    } else {
      if (!worth_isolating(mm, cc, page, 0)) goto isolate_fail;
      if (!locked) {
        locked = compact_lock_irqsave(mm, zone.lru_lock, cc);
        if (!locked) break;
        if (!PageLRU(mm, page)) goto isolate_fail;  // recheck under the lock
      }
      if (__isolate_lru_page(mm, page, mode) != 0) goto isolate_fail;
    }
    del_page_from_lru_list(mm, page);
    if (mm.cfg.has(Fix::NrIsolatedLruOnly)) inc_node_page_state(mm, nr_isolated_stat(mm, page));

  isolate_success:
    list_add(mm, page, cc.migratepages);
    cc.nr_migratepages++;
    nr_isolated++;
    mm.stat(Stat::COMPACTISOLATED)++;
    // Avoid isolating too much, unless a lock is contended (cb2dcaf023c2): then isolate
    // quickly to potentially remove one source of contention.
    if (cc.nr_migratepages == COMPACT_CLUSTER_MAX && !(finishes_on_contention(mm) && cc.contended)) {
      ++low_pfn;
      break;
    }
    continue;

  isolate_fail_put:
    // Avoid potential deadlock in freeing page under lru_lock: this may be the last
    // reference, and __page_cache_release takes the LRU lock of a PageLRU page.
    if (locked) {
      spin_unlock_irqrestore(zone.lru_lock);
      locked = false;
    }
    put_page(mm, page);

  isolate_fail:
    if (!skip_on_failure) continue;
    // We have isolated some pages, but then failed: release them instead of migrating.
    // (cc->last_migrated_pfn, which only decides when to drain the per-cpu lists, is
    // not modelled.)
    if (nr_isolated) {
      if (locked) {
        spin_unlock_irqrestore(zone.lru_lock);
        locked = false;
      }
      acct_isolated(mm, cc);
      putback_movable_pages(mm, cc.migratepages);
      cc.nr_migratepages = 0;
      nr_isolated = 0;
    }
    if (low_pfn < next_skip_pfn) {
      low_pfn = next_skip_pfn - 1;
      next_skip_pfn += Pfn(1) << cc.order;
    }
  }
  // The PageBuddy skip may have gone past the end of the range.
  if (low_pfn > end_pfn) low_pfn = end_pfn;
  if (locked) spin_unlock_irqrestore(zone.lru_lock);
  cc.total_migrate_scanned += nr_scanned;
  mm.stat(Stat::COMPACTMIGRATE_SCANNED) += int64_t(nr_scanned);
  return low_pfn;
}

IsolateResult isolate_migratepages(Mm& mm, compact_control& cc) {
  MODEL_FUNC("isolate_migratepages");
  Zone& zone = mm.zones[cc.zone];
  const isolate_mode_t mode = ISOLATE_UNEVICTABLE |
                              (cc.mode != MigrateMode::Sync ? ISOLATE_ASYNC_MIGRATE : 0);
  Pfn low_pfn = cc.migrate_pfn;
  Pfn block_start_pfn = std::max(pageblock_start_pfn(low_pfn), zone.zone_start_pfn);
  Pfn block_end_pfn = pageblock_end_pfn(low_pfn);
  // Iterate over whole pageblocks until one with isolated pages, or the free scanner.
  for (; block_end_pfn <= cc.free_pfn && low_pfn < cc.range_end; low_pfn = block_end_pfn,
       block_start_pfn = block_end_pfn, block_end_pfn += pageblock_nr_pages) {
    if (!suitable_migration_source(mm, cc, block_start_pfn)) continue;
    low_pfn = isolate_migratepages_block(mm, cc, low_pfn, block_end_pfn, mode);
    if (!low_pfn || stops_on_contention(mm, cc)) {
      acct_isolated(mm, cc);
      return IsolateResult::Abort;
    }
    break;  // one pageblock at a time
  }
  acct_isolated(mm, cc);
  cc.migrate_pfn = std::min(low_pfn, cc.range_end == kNoPfn ? low_pfn : cc.range_end);
  return cc.nr_migratepages ? IsolateResult::Success : IsolateResult::None;
}

namespace {

// isolate_freepages_block (not strict): takes free blocks out of the buddy allocator
// until there are as many free pages as pages to migrate.
Pfn isolate_freepages_block(Mm& mm, compact_control& cc, Pfn blockpfn, Pfn end_pfn) {
  Zone& zone = mm.zones[cc.zone];
  bool locked = false;
  uint64_t nr_scanned = 0;
  struct Block {
    Pfn pfn;
    unsigned order;
  };
  std::vector<Block> isolated_blocks;
  for (; blockpfn < end_pfn; blockpfn++) {
    if (!(blockpfn % COMPACT_CLUSTER_MAX) && locked) {
      spin_unlock_irqrestore(zone.lock);
      locked = false;
    }
    nr_scanned++;
    if (!PageBuddy(mm, blockpfn)) continue;
    if (!locked) {
      // The zone lock may be heavily contended: async compaction does not spin on it.
      locked = compact_lock_irqsave(mm, zone.lock, cc);
      if (!locked) break;
      if (!PageBuddy(mm, blockpfn)) continue;  // recheck with the zone lock
    }
    const unsigned order = page_order(mm, blockpfn);
    const unsigned isolated = __isolate_free_page(mm, blockpfn, order);
    if (!isolated) {
      if (mm.cfg.has(Fix::AbortFreeScannerOnSplitFail)) break;
      continue;  // 4.4: isolate_fail: if (strict) break; else continue;
    }
    isolated_blocks.push_back({blockpfn, order});
    cc.nr_freepages += isolated;
    if (cc.nr_migratepages <= cc.nr_freepages) {
      blockpfn += isolated;
      break;
    }
    blockpfn += isolated - 1;
  }
  if (locked) spin_unlock_irqrestore(zone.lock);
  // map_pages: split each block into order-0 pages on cc->freepages.
  for (const Block& b : isolated_blocks) {
    split_free_block(mm, b.pfn, b.order, Owner::Migration);
    for (Pfn p = b.pfn; p < b.pfn + (1u << b.order); ++p) list_add_tail(mm, p, cc.freepages);
  }
  cc.total_free_scanned += nr_scanned;
  mm.stat(Stat::COMPACTFREE_SCANNED) += int64_t(nr_scanned);
  return blockpfn;
}

}  // namespace

void isolate_freepages(Mm& mm, compact_control& cc) {
  MODEL_FUNC("isolate_freepages");
  Zone& zone = mm.zones[cc.zone];
  Pfn block_start_pfn = pageblock_start_pfn(cc.free_pfn);
  Pfn block_end_pfn = std::min(block_start_pfn + pageblock_nr_pages, zone.end_pfn());
  Pfn isolate_start_pfn = cc.free_pfn;
  const Pfn low_pfn = pageblock_end_pfn(cc.migrate_pfn);
  // Scan pageblocks backwards from the end of the zone until the migrate scanner.
  for (; block_start_pfn >= low_pfn && block_start_pfn >= zone.zone_start_pfn;
       block_end_pfn = block_start_pfn, block_start_pfn -= pageblock_nr_pages,
       isolate_start_pfn = block_start_pfn) {
    if (suitable_migration_target(mm, block_start_pfn)) {
      isolate_start_pfn = isolate_freepages_block(mm, cc, isolate_start_pfn, block_end_pfn);
      // Enough free pages isolated, or (before cb2dcaf023c2) aborted on contention.
      if (cc.nr_freepages >= cc.nr_migratepages || stops_on_contention(mm, cc)) {
        // Restart at this pageblock next time unless it was fully scanned.
        if (isolate_start_pfn >= block_end_pfn)
          isolate_start_pfn = block_start_pfn >= pageblock_nr_pages
                                  ? block_start_pfn - pageblock_nr_pages : 0;
        break;
      }
    }
    if (block_start_pfn < pageblock_nr_pages) {
      isolate_start_pfn = 0;
      break;
    }
  }
  cc.free_pfn = isolate_start_pfn;
}

Pfn compaction_alloc(Mm& mm, Pfn, uint64_t data) {
  MODEL_FUNC("compaction_alloc");
  auto& cc = *reinterpret_cast<compact_control*>(data);
  // Isolate free pages if necessary, and (before cb2dcaf023c2) if we are not aborting due
  // to contention.
  if (list_empty(mm, cc.freepages)) {
    if (!stops_on_contention(mm, cc)) isolate_freepages(mm, cc);
    if (list_empty(mm, cc.freepages)) return kNoPfn;
  }
  const Pfn freepage = mm.lists[cc.freepages].first;
  list_del(mm, freepage);
  cc.nr_freepages--;
  return freepage;
}

void compaction_free(Mm& mm, Pfn page, uint64_t data) {
  auto& cc = *reinterpret_cast<compact_control*>(data);
  list_add(mm, page, cc.freepages);
  cc.nr_freepages++;
}

// compaction_suitable (4.8.15 mm/compaction.c:1375-1432) and the three 4.9 commits that
// changed its watermarks and its use of the fragmentation index.
CompactResult compaction_suitable(Mm& mm, Zone& zone, int order, unsigned alloc_flags) {
  if (order == -1) return CompactResult::Continue;
  // If watermarks for high-order allocation are already met, there should be no need for
  // compaction at all.
  const Watermark done = success_watermark(mm, alloc_flags);
  if (zone_watermark_ok(mm, zone, unsigned(order), zone.wmark_pages(done), alloc_flags))
    return CompactResult::Success;
  // Order-0 watermark plus room for the migration targets (compact_gap: 2 << order).
  // 8348faf91f56: the min watermark for non-costly orders, the low one for costly ones.
  const Watermark base = mm.cfg.has(Fix::CompactionMinWatermark) && order <= int(PAGE_ALLOC_COSTLY_ORDER)
                             ? Watermark::Min
                             : Watermark::Low;
  const uint64_t need = zone.wmark_pages(base) + (2ull << order);
  if (zone.free_pages <= need) return CompactResult::Skipped;  // the watermark check fails at equality
  // A low fragmentation index means failure is due to lack of memory, not fragmentation
  // (sysctl_extfrag_threshold = 500). Since "restrict fragindex to costly orders" only for
  // orders above PAGE_ALLOC_COSTLY_ORDER, "where the alternative to a successful
  // reclaim/compaction is OOM".
  if (mm.cfg.has(Fix::FragindexCostlyOnly) && order <= int(PAGE_ALLOC_COSTLY_ORDER))
    return CompactResult::Continue;
  const int fragindex = fragmentation_index(mm, zone, unsigned(order));
  // (__compaction_suitable's COMPACT_NOT_SUITABLE_ZONE, which compaction_suitable hands
  // its callers as COMPACT_SKIPPED.)
  if (fragindex >= 0 && fragindex <= 500) return CompactResult::Skipped;
  return CompactResult::Continue;
}

static CompactResult __compact_finished(Mm& mm, compact_control& cc) {
  Zone& zone = mm.zones[cc.zone];
  // Since cb2dcaf023c2 a contended compaction goes on to the end of its pageblock and
  // only then reports the contention (below).
  if (stops_on_contention(mm, cc)) return CompactResult::Contended;
  if (compact_scanners_met(cc) || (cc.range_end != kNoPfn && cc.migrate_pfn >= cc.range_end)) {
    // reset_cached_positions
    zone.compact_cached_migrate_pfn = zone.zone_start_pfn;
    zone.compact_cached_free_pfn = pageblock_start_pfn(zone.end_pfn() - 1);
    return cc.whole_zone ? CompactResult::Complete : CompactResult::PartialSkipped;
  }
  if (cc.order == -1) return CompactResult::Continue;
  // Compaction run is not finished if the watermark is not met. 4.12 removed the check:
  // the free lists alone decide.
  if (!mm.cfg.has(Fix::CompactFinishedNoWatermark) &&
      !zone_watermark_ok(mm, zone, unsigned(cc.order),
                         zone.wmark_pages(success_watermark(mm, cc.alloc_flags)), cc.alloc_flags))
    return CompactResult::Continue;
  // Finish the pageblock first: since efe771c7603b always, to reduce the possibility of
  // fallbacks in the future (the fallback test below then always finds it aligned); since
  // baf6a9a1db5a once a fallback was found for a non-movable allocation (then,
  // at its end, better check again that we really succeeded).
  const bool finish_block = mm.cfg.has(Fix::CompactFinishWholePageblock);
  if (mm.cfg.has(Fix::CompactAlwaysFinishPageblock) || (finish_block && cc.finishing_block)) {
    if (!pageblock_aligned(cc.migrate_pfn)) return CompactResult::Continue;
    cc.finishing_block = false;
  }
  const int migratetype = cc.migratetype;
  for (int order = cc.order; order < MAX_ORDER; order++) {
    const FreeArea& area = zone.free_area[size_t(order)];
    if (!list_empty(mm, area.free_list[size_t(migratetype)])) return CompactResult::Success;
    if (migratetype == MIGRATE_MOVABLE && !list_empty(mm, area.free_list[MIGRATE_CMA]))
      return CompactResult::Success;
    // Job done if an allocation would steal a freepage from another migratetype.
    bool can_steal = false;
    if (find_suitable_fallback(mm, area, unsigned(order), migratetype, true, &can_steal) != -1) {
      // Movable pages are OK in any pageblock. For a non-movable allocation, sync
      // compaction first finishes the current pageblock, so it is as free as possible and
      // we won't have to steal another one soon (async compaction keeps to pageblocks of
      // the same migratetype).
      if (!finish_block || migratetype == MIGRATE_MOVABLE || cc.mode == MigrateMode::Async ||
          pageblock_aligned(cc.migrate_pfn))
        return CompactResult::Success;
      cc.finishing_block = true;
      return CompactResult::Continue;
    }
  }
  return cc.contended ? CompactResult::Contended : CompactResult::NoSuitablePage;
}

CompactResult compact_finished(Mm& mm, compact_control& cc) {
  const CompactResult ret = __compact_finished(mm, cc);
  return ret == CompactResult::NoSuitablePage ? CompactResult::Continue : ret;
}

namespace {

// release_freepages: frees every page left on the list; returns the highest pfn.
Pfn release_freepages(Mm& mm, uint32_t list) {
  Pfn high = 0;
  while (!list_empty(mm, list)) {
    const Pfn p = mm.lists[list].first;
    list_del(mm, p);
    put_page(mm, p);
    high = std::max(high, p);
  }
  return high;
}

struct PrivateLists {
  Mm& mm;
  compact_control& cc;
  PrivateLists(Mm& m, compact_control& c) : mm(m), cc(c) {
    cc.migratepages = mm.get_private_list("cc->migratepages");
    cc.freepages = mm.get_private_list("cc->freepages");
  }
  // The lists go back to the pool (release_freepages has emptied cc->freepages).
  ~PrivateLists() {
    if (std::uncaught_exceptions()) return;  // the task died: the lists stay as they are
    release_freepages(mm, cc.freepages);
    mm.put_private_list(cc.freepages);
    mm.put_private_list(cc.migratepages);
  }
};

}  // namespace

CompactResult compact_zone(Mm& mm, compact_control& cc, capture_control* capc) {
  MODEL_FUNC("compact_zone");
  Zone& zone = mm.zones[cc.zone];
  cc.migratetype = gfpflags_to_migratetype(cc.gfp_mask);
  CompactResult ret = compaction_suitable(mm, zone, cc.order, cc.alloc_flags);
  if (ret == CompactResult::Success || ret == CompactResult::Skipped) return ret;

  if (cc.whole_zone) {
    cc.migrate_pfn = zone.zone_start_pfn;
    cc.free_pfn = pageblock_start_pfn(zone.end_pfn() - 1);
  } else {
    cc.migrate_pfn = zone.compact_cached_migrate_pfn;
    cc.free_pfn = zone.compact_cached_free_pfn;
    if (cc.migrate_pfn == zone.zone_start_pfn) cc.whole_zone = true;
  }
  PrivateLists lists(mm, cc);

  while ((ret = compact_finished(mm, cc)) == CompactResult::Continue) {
    switch (isolate_migratepages(mm, cc)) {
      case IsolateResult::Abort:
        ret = CompactResult::Contended;
        putback_movable_pages(mm, cc.migratepages);
        cc.nr_migratepages = 0;
        goto out;
      case IsolateResult::None:
        continue;
      case IsolateResult::Success:
        break;
    }
    {
      const int err = migrate_pages(mm, cc.migratepages, compaction_alloc, compaction_free,
                                    reinterpret_cast<uint64_t>(&cc), cc.mode,
                                    MigrateReason::Compaction);
      cc.nr_migratepages = 0;
      if (err) {
        putback_movable_pages(mm, cc.migratepages);
        // -ENOMEM: no free target pages left before the scanners met.
        if (err == -ENOMEM && !compact_scanners_met(cc)) {
          ret = CompactResult::Contended;
          goto out;
        }
        // "We failed to migrate at least one page in the current order-aligned block, so
        // skip the rest of it." (Its drain of the per-cpu lists is not modelled: the model
        // has none.)
        if (skips_failed_blocks(mm, cc))
          cc.migrate_pfn = block_end_pfn(cc.migrate_pfn - 1, cc.order);
      }
    }
    // Stop if a page has been captured (a plain read of the task's own capc).
    if (capc && capc->page != kNoPfn) {
      ret = CompactResult::Success;
      break;
    }
  }
out:
  // Release free pages; the free scanner restarts no later than the highest of them.
  if (cc.nr_freepages > 0) {
    const Pfn free_pfn = release_freepages(mm, cc.freepages) & ~(pageblock_nr_pages - 1);
    cc.nr_freepages = 0;
    if (free_pfn > zone.compact_cached_free_pfn) zone.compact_cached_free_pfn = free_pfn;
  }
  return ret;
}

void compact_memory(Mm& mm, MigrateMode mode) {
  MODEL_FUNC("compact_node");
  for (uint32_t z = 0; z < mm.zones.size(); ++z) {
    compact_control cc;
    cc.zone = z;
    cc.order = -1;
    cc.mode = mode;
    cc.gfp_mask = background_gfp(mm);
    cc.whole_zone = true;
    compact_zone(mm, cc);
  }
}

void defer_compaction(Zone& zone, int order) {
  zone.compact_considered = 0;
  zone.compact_defer_shift++;
  if (order < zone.compact_order_failed) zone.compact_order_failed = order;
  if (zone.compact_defer_shift > COMPACT_MAX_DEFER_SHIFT)
    zone.compact_defer_shift = COMPACT_MAX_DEFER_SHIFT;
}

// Returns true if compaction should be skipped this time.
bool compaction_deferred(Zone& zone, int order) {
  const uint32_t defer_limit = 1u << zone.compact_defer_shift;
  if (order < zone.compact_order_failed) return false;
  // Avoid possible overflow.
  if (++zone.compact_considered > defer_limit) zone.compact_considered = defer_limit;
  return zone.compact_considered < defer_limit;
}

// Update defer tracking counters after successful compaction of given order, which means
// an allocation either succeeded (alloc_success == true) or is expected to succeed.
void compaction_defer_reset(Zone& zone, int order, bool alloc_success) {
  if (alloc_success) {
    zone.compact_considered = 0;
    zone.compact_defer_shift = 0;
  }
  if (order >= zone.compact_order_failed) zone.compact_order_failed = order + 1;
}

// Whether a compaction of `zone` for `order` that ended with `status` made the allocation
// possible, which resets the zone's deferral: if a normal allocation would succeed (4.8),
// or since "don't recheck watermarks after COMPACT_SUCCESS" if compaction says so.
// try_to_compact_pages and kcompactd_do_work ask it the same way.
static bool compaction_succeeded(Mm& mm, const Zone& zone, int order, CompactResult status,
                                 unsigned alloc_flags) {
  if (mm.cfg.has(Fix::NoWatermarkRecheckAfterSuccess)) return status == CompactResult::Success;
  return zone_watermark_ok(mm, zone, unsigned(order), zone.wmark_pages(Watermark::Low),
                           alloc_flags);
}

namespace {

const bool registered = [] {
  register_obj_class(objclass::kCapture, "capture_control",
                     [](uint64_t task, const World*) { return "capture_control of task " + std::to_string(task); });
  return true;
}();

// current->capture_control and the capc it points at: a scheduling point on the object of
// the task they belong to (the task's own accesses, and a softirq's on the task it
// interrupted); none in set-up code, which nothing interrupts.
void capture_access(Op op, Access access, uint32_t line = here()) {
  if (const Task* t = current_kernel_task())
    sched(op, access, make_obj(objclass::kCapture, t->id), line);
}
void set_capture_control(capture_control* capc) {
  capture_access(Op::Write, Access::Write);
  current_capture_control() = capc;
}
Pfn read_captured(const capture_control& capc) {
  capture_access(Op::Read, Access::Read);
  return capc.page;
}

// compact_zone_order: one zone's direct compaction, with the capture control exposed
// while it runs (5e1f0f098b46). Before b9e20f0da1f5 the captured page was read before
// the control was hidden, so a page an interrupt captured in between was lost.
CompactResult compact_zone_order(Mm& mm, compact_control& cc, Pfn* capture) {
  capture_control capc{&cc, kNoPfn};
  const bool capturing = capture && mm.cfg.has(Fix::CompactionCapture);
  // A compaction left by an exception (set-up code goes on after one) leaves no pointer
  // to its stack behind.
  struct Unexpose {
    const capture_control* capc;
    ~Unexpose() {
      if (current_capture_control() == capc) current_capture_control() = nullptr;
    }
  } unexpose{&capc};
  if (capturing) set_capture_control(&capc);
  const CompactResult ret = compact_zone(mm, cc, capturing ? &capc : nullptr);
  if (!capturing) return ret;
  if (mm.cfg.has(Fix::CaptureSafeWrtInterrupts)) {
    // Make sure we hide capture control first before we read the captured page pointer,
    // otherwise an interrupt could free and capture a page and we would leak it.
    set_capture_control(nullptr);
    *capture = read_captured(capc);
  } else {
    *capture = read_captured(capc);
    set_capture_control(nullptr);
  }
  return ret;
}

}  // namespace

capture_control* task_capc(Mm& mm, uint32_t zone) {
  // (Without a capture control exposed there is nothing another context could change:
  // the read is a scheduling point only when there is one.)
  if (!mm.cfg.has(Fix::CompactionCapture)) return nullptr;
  void*& slot = current_capture_control();
  if (!slot) return nullptr;
  capture_access(Op::Read, Access::Read);
  auto* capc = static_cast<capture_control*>(slot);
  // Not for a kernel thread, and only while nothing is captured yet, for its zone.
  const Task* t = current_kernel_task();
  if (!capc || (t && t->daemon) || capc->page != kNoPfn || capc->cc->zone != zone) return nullptr;
  return capc;
}

bool compaction_capture(capture_control* capc, Pfn page, unsigned order, int migratetype) {
  if (!capc || int(order) != capc->cc->order) return false;
  // Do not accidentally pollute CMA or isolated regions.
  if (migratetype == MIGRATE_CMA || migratetype == MIGRATE_ISOLATE) return false;
  // Do not let lower order allocations pollute a movable pageblock.
  if (order < unsigned(pageblock_order) && migratetype == MIGRATE_MOVABLE) return false;
  capture_access(Op::Write, Access::Write);
  capc->page = page;
  return true;
}

// compact_zone_order + try_to_compact_pages (4.8.15).
CompactResult try_to_compact_pages(Mm& mm, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                   CompactPriority prio, Pfn* capture) {
  MODEL_FUNC("try_to_compact_pages");
  if (capture) *capture = kNoPfn;
  // Check if the GFP flags allow compaction: since 73e64c51afc5 a GFP_NOFS request
  // compacts too (the scanner then leaves pages with a mapping alone).
  const bool may_enter_fs = gfp & __GFP_FS, may_perform_io = gfp & __GFP_IO;
  if (mm.cfg.has(Fix::CompactionGfpNofs) ? !may_perform_io : !may_enter_fs || !may_perform_io)
    return CompactResult::Skipped;
  CompactResult rc = CompactResult::Skipped;
  // Compact each zone in the list (the zonelist: the highest zone first).
  for (uint32_t z = uint32_t(mm.zones.size()); z-- > 0;) {
    Zone& zone = mm.zones[z];
    if (compaction_deferred(zone, int(order))) {
      rc = std::max(CompactResult::Deferred, rc);
      continue;
    }
    compact_control cc;
    cc.zone = z;
    cc.order = int(order);
    cc.gfp_mask = gfp;
    cc.alloc_flags = alloc_flags;
    cc.mode = prio == CompactPriority::Async ? MigrateMode::Async : MigrateMode::SyncLight;
    cc.direct_compaction = true;
    const CompactResult status = compact_zone_order(mm, cc, capture);
    rc = std::max(status, rc);
    // The allocation should succeed, stop compacting.
    if (compaction_succeeded(mm, zone, int(order), status, alloc_flags)) {
      // We think the allocation will succeed in this zone, but it is not certain, hence
      // the false. The caller will repeat this with true if allocation indeed succeeds.
      compaction_defer_reset(zone, int(order), false);
      break;
    }
    // We think that allocation won't succeed in this zone so we defer compaction there.
    if (prio != CompactPriority::Async &&
        (status == CompactResult::Complete || status == CompactResult::PartialSkipped))
      defer_compaction(zone, int(order));
    // need_resched() and fatal signals are not modelled.
  }
  return rc;
}

// alloc_migrate_target (mm/page_isolation.c): each target page comes straight from the
// page allocator, as alloc_contig_range's migrations get them.
static Pfn alloc_migrate_target(Mm& mm, Pfn, uint64_t) {
  return alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Migration);
}

int compact_range(Mm& mm, Pfn start, Pfn end, MigrateMode mode) {
  MODEL_FUNC("compact_range");
  if (!mm.valid_pfn(start) || end <= start || end > mm.pages.size())
    throw UsageError("compact_range: bad pfn range [" + std::to_string(start) + ", " +
                     std::to_string(end) + ")");
  Zone& zone = mm.zone_of(start);
  compact_control cc;
  cc.zone = zone.id;
  cc.mode = mode;
  cc.gfp_mask = background_gfp(mm);
  cc.migrate_pfn = start;
  cc.range_end = std::min(end, zone.end_pfn());
  cc.free_pfn = pageblock_start_pfn(zone.end_pfn() - 1);
  PrivateLists lists(mm, cc);
  const isolate_mode_t imode =
      ISOLATE_UNEVICTABLE | (mode != MigrateMode::Sync ? ISOLATE_ASYNC_MIGRATE : 0);
  int failed = 0;
  while (cc.migrate_pfn < cc.range_end) {
    const Pfn pfn = isolate_migratepages_block(mm, cc, cc.migrate_pfn, cc.range_end, imode);
    if (!pfn) break;  // async and too many isolated: -EINTR
    cc.migrate_pfn = pfn;
    acct_isolated(mm, cc);
    if (!cc.nr_migratepages) continue;
    const int err = migrate_pages(mm, cc.migratepages, alloc_migrate_target, nullptr, 0, mode,
                                  MigrateReason::ContigRange);
    cc.nr_migratepages = 0;
    if (err) {
      failed += err < 0 ? int(mm.lists[cc.migratepages].count) : err;
      putback_movable_pages(mm, cc.migratepages);
      if (err == -ENOMEM) break;
    }
  }
  return failed;
}

// isolate_migratepages_range (4.8 mm/compaction.c:960-994): the range block by block
// (pageblock_pfn_to_page: the model's zones have no holes), until COMPACT_CLUSTER_MAX
// pages are isolated; 0 when a block gave up (too many isolated).
Pfn isolate_migratepages_range(Mm& mm, compact_control& cc, Pfn start_pfn, Pfn end_pfn) {
  MODEL_FUNC("isolate_migratepages_range");
  Pfn pfn = start_pfn;
  for (Pfn block_end = pageblock_end_pfn(pfn); pfn < end_pfn;
       pfn = block_end, block_end += pageblock_nr_pages) {
    block_end = std::min(block_end, end_pfn);
    pfn = isolate_migratepages_block(mm, cc, pfn, block_end, ISOLATE_UNEVICTABLE);
    if (!pfn) break;
    if (cc.nr_migratepages == COMPACT_CLUSTER_MAX) break;
  }
  acct_isolated(mm, cc);
  return pfn;
}

// __alloc_contig_migrate_range (4.8 mm/page_alloc.c:7158-7200), as alloc_contig_range
// runs it. (fatal_signal_pending: no signals; reclaim_clean_pages_from_list reclaims
// clean page-cache pages, which the model does not have.)
int alloc_contig_migrate_range(Mm& mm, Pfn start, Pfn end) {
  MODEL_FUNC("__alloc_contig_migrate_range");
  compact_control cc;
  cc.zone = mm.zone_of(start).id;
  cc.order = -1;
  cc.mode = MigrateMode::Sync;
  cc.gfp_mask = background_gfp(mm);
  PrivateLists lists(mm, cc);
  Pfn pfn = start;
  unsigned tries = 0;
  int ret = 0;
  while (pfn < end || !list_empty(mm, cc.migratepages)) {
    if (list_empty(mm, cc.migratepages)) {
      cc.nr_migratepages = 0;
      pfn = isolate_migratepages_range(mm, cc, pfn, end);
      if (!pfn) {
        ret = -EINTR;
        break;
      }
      tries = 0;
    } else if (++tries == 5) {
      ret = ret < 0 ? ret : -EBUSY;
      break;
    }
    ret = migrate_pages(mm, cc.migratepages, alloc_migrate_target, nullptr, 0, cc.mode,
                        MigrateReason::ContigRange);
  }
  if (ret < 0) {
    putback_movable_pages(mm, cc.migratepages);
    return ret;
  }
  return 0;
}

namespace {

ObjId kcompactd_wait_obj() { return make_obj(objclass::kKcompactd, 0); }

bool kcompactd_work_requested(const Mm& mm) { return mm.kcompactd_max_order > 0; }

// Some zone up to the classzone is suitable for compaction at the requested order.
bool kcompactd_node_suitable(Mm& mm) {
  for (int zoneid = 0; zoneid <= mm.kcompactd_classzone_idx; zoneid++) {
    Zone& zone = mm.zones[size_t(zoneid)];
    if (!managed_zone(zone)) continue;  // !populated_zone(zone)
    if (compaction_suitable(mm, zone, mm.kcompactd_max_order, 0) == CompactResult::Continue)
      return true;
  }
  return false;
}

// kcompactd_do_work (4.8.15 mm/compaction.c:1888-1958): sync-light compaction of every
// zone up to the classzone that is neither deferred nor unsuitable; a zone that meets its
// low watermark afterwards has its deferral reset, one compacted to the end is deferred
// as sync direct compaction defers.
void kcompactd_do_work(Mm& mm) {
  MODEL_FUNC("kcompactd_do_work");
  sched(Op::Read, Access::Read, kcompactd_wait_obj(), here());
  const int order = mm.kcompactd_max_order;
  const int classzone_idx = mm.kcompactd_classzone_idx;
  mm.stat(Stat::KCOMPACTD_WAKE)++;
  for (int z = 0; z <= classzone_idx; ++z) {
    Zone& zone = mm.zones[size_t(z)];
    if (!managed_zone(zone)) continue;  // !populated_zone(zone)
    if (compaction_deferred(zone, order)) continue;
    if (compaction_suitable(mm, zone, order, 0) != CompactResult::Continue) continue;
    compact_control cc;
    cc.zone = uint32_t(z);
    cc.order = order;
    cc.mode = MigrateMode::SyncLight;
    cc.gfp_mask = background_gfp(mm);
    const CompactResult status = compact_zone(mm, cc);
    if (compaction_succeeded(mm, zone, order, status, 0))
      compaction_defer_reset(zone, order, false);
    else if (status == CompactResult::PartialSkipped || status == CompactResult::Complete)
      defer_compaction(zone, order);
  }
  // Regardless of success, we are done until woken up next. But remember the requested
  // order/classzone_idx in case it was higher/tighter than our current ones.
  sched(Op::Write, Access::Write, kcompactd_wait_obj(), here());
  if (mm.kcompactd_max_order <= order) mm.kcompactd_max_order = 0;
  if (mm.kcompactd_classzone_idx >= classzone_idx)
    mm.kcompactd_classzone_idx = int(mm.zones.size()) - 1;
}

}  // namespace

void wakeup_kcompactd(Mm& mm, int order, int classzone_idx) {
  if (!order) return;
  MODEL_FUNC("wakeup_kcompactd");
  sched(Op::Write, Access::Write, kcompactd_wait_obj(), here());
  if (mm.kcompactd_max_order < order) mm.kcompactd_max_order = order;
  if (mm.kcompactd_classzone_idx > classzone_idx) mm.kcompactd_classzone_idx = classzone_idx;
  if (!mm.kcompactd_waiting) return;
  if (!kcompactd_node_suitable(mm)) return;
  if (Sim* s = Sim::current()) s->wake(kcompactd_wait_obj());  // wake_up_interruptible
}

void kcompactd(Mm& mm) {
  MODEL_FUNC("kcompactd");
  Sim& sim = *Sim::current();
  mm.kcompactd_max_order = 0;
  mm.kcompactd_classzone_idx = int(mm.zones.size()) - 1;
  for (;;) {
    // wait_event_freezable(pgdat->kcompactd_wait, kcompactd_work_requested(pgdat))
    sched(Op::Read, Access::Read, kcompactd_wait_obj(), here());
    while (!kcompactd_work_requested(mm)) {
      mm.kcompactd_waiting = true;
      const bool live = sim.wait_idle(kcompactd_wait_obj(), "kcompactd_wait");
      mm.kcompactd_waiting = false;
      if (!live) return;  // the run is over
    }
    kcompactd_do_work(mm);
  }
}

}  // namespace pagesim::mm
