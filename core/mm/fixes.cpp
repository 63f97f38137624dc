#include "mm/fixes.h"

#include <array>

namespace pagesim {
namespace {

constexpr std::array<FixInfo, kFixCount> kFixes = {{
    {Fix::PutPageAfterMigration, "c6c919eb90e0",
     "mm: use put_page() to free page instead of putback_lru_page() (before it, a migrated "
     "page went back onto the LRU to be freed there)"},
    {Fix::NonLruMigration, "bda807d44454",
     "mm: migrate: support non-lru movable page migration (before it, compaction treated "
     "every non-LRU page as unmovable)"},
    {Fix::BalloonNonLruMovable, "b1123ea6d3b3",
     "mm: balloon: use general non-lru movable page feature (before it, compaction and "
     "migration called the balloon's own isolate, migrate and putback, and PagePrivate told "
     "a balloon page not isolated)"},
    {Fix::NrIsolatedLruOnly, "6afcf8ef0ca0",
     "mm/compaction: fix NR_ISOLATED_* stats for pfn based migration (count LRU pages only)"},
    {Fix::Kcompactd, "698b1b30642f",
     "mm, compaction: introduce kcompactd (4.6, Vlastimil Babka, with accf62422b3a: kswapd "
     "wakes a per-node kcompactd to compact in the background; before, kswapd ran "
     "compact_pgdat itself after it had reclaimed, which the model does not have)"},
    {Fix::SkipOnFailure, "fdd048e12c9a",
     "mm, compaction: skip blocks where isolation fails in async direct compaction (4.7, "
     "Vlastimil Babka: at the first page of an order-aligned block it cannot isolate, async "
     "direct compaction puts back what it isolated there and skips to the next block, "
     "and after a migration that failed for a page it skips the rest of that page's block; "
     "before, it went on page by page)"},
    {Fix::AbortFreeScannerOnSplitFail, "abort-free-scanner-if-split-fails",
     "mm, compaction: abort free scanner if split fails (4.7, David Rientjes, with \"prevent "
     "VM_BUG_ON when terminating freeing scanner\"; their ids are not in the stored archive: "
     "isolate_freepages_block stops at the first free page whose split the watermark "
     "refuses; before, it tried every free page of the block)"},
    {Fix::DeferPcpChecks, "479f854a207c",
     "mm, page_alloc: defer debugging checks of pages allocated from the PCP (4.7, Mel "
     "Gorman: an order-0 page is checked at allocation only with CONFIG_DEBUG_VM; before, "
     "every new page was checked, and a bad one skipped)"},
    {Fix::CompactionAllocWatermark, "correct-watermark-for-compaction-success",
     "mm, compaction: use correct watermark when checking compaction success (4.9, Vlastimil "
     "Babka; its id is not in the stored archive, its v6 patch is archive id 3954916980: "
     "__compaction_suitable counts a zone as already good enough, and __compact_finished "
     "lets compaction stop, at the allocation's watermark, min in the slow path, not the "
     "low one)"},
    {Fix::CompactionMinWatermark, "8348faf91f56",
     "mm, compaction: require only min watermarks for non-costly orders (4.9: "
     "compaction_suitable wants min + 2 << order free for orders up to 3, and the free "
     "scanner's __isolate_free_page takes pages down to the min watermark)"},
    {Fix::NoWatermarkRecheckAfterSuccess, "dont-recheck-watermarks-after-compact-success",
     "mm, compaction: don't recheck watermarks after COMPACT_SUCCESS (4.9; its id is not in "
     "the stored archive: try_to_compact_pages and kcompactd stop, reset the deferral or "
     "defer by the compaction's result, not a fresh low-watermark check)"},
    {Fix::FragindexCostlyOnly, "restrict-fragindex-to-costly-orders",
     "mm, compaction: restrict fragindex to costly orders (4.9; its id is not in the stored "
     "archive: a low fragmentation index no longer refuses compaction for orders up to 3)"},
    {Fix::CompactionGfpNofs, "73e64c51afc5",
     "mm, compaction: allow compaction for GFP_NOFS requests (4.10: try_to_compact_pages "
     "skips only requests without __GFP_IO, and a scanner without __GFP_FS leaves pages "
     "that have a mapping alone)"},
    {Fix::CompactFinishedNoWatermark, "no-watermark-check-in-compact-finished",
     "mm, compaction: remove redundant watermark check in compact_finished() (4.12, Vlastimil "
     "Babka; its id is not in the stored archive, its v3 patch is archive id 24149025259: "
     "compaction stops as soon as the free lists hold a suitable page; before, it went on "
     "while the zone was below the allocation's watermark for the order, which the free "
     "pages compaction itself holds isolated can bring about)"},
    {Fix::FallbackStealThenSmallest, "3bc48f96cf11",
     "mm, page_alloc: split smallest stolen page in fallback (4.12, Vlastimil Babka: "
     "__rmqueue_fallback moves the page it found, with its pageblock's other free pages if "
     "it may steal the block, to the allocation's free lists, and __rmqueue retries "
     "__rmqueue_smallest, which splits the smallest of them; before, it split the largest "
     "page it found)"},
    {Fix::FallbackCountsMovable, "02aa0cdd7248",
     "mm, page_alloc: count movable pages when stealing from pageblock (4.12, Vlastimil "
     "Babka: a fallback claims the pageblock when its free pages and its pages of a "
     "compatible migratetype, LRU or __PageMovable pages for a movable allocation, the "
     "others for an unmovable one stealing from a movable block, are half of it; before, "
     "only free pages counted)"},
    {Fix::FallbackSmallestNoSteal, "7a8f58f39188",
     "mm, page_alloc: fallback to smallest page when not stealing whole pageblock (4.13, "
     "Vlastimil Babka: a movable allocation that will not claim the pageblock takes the "
     "smallest sufficient page of another migratetype, not the largest)"},
    {Fix::CompactSameMigratetype, "282722b0d258",
     "mm, compaction: restrict async compaction to pageblocks of same migratetype (4.12, "
     "Vlastimil Babka: async direct compaction migrates only from pageblocks of the "
     "allocation's migratetype (movable or CMA for a movable one), and the slow path "
     "compacts before reclaim for non-movable allocations of orders 1 to 3 too; before, "
     "async compaction migrated from movable and CMA pageblocks only)"},
    {Fix::CompactFinishWholePageblock, "baf6a9a1db5a",
     "mm, compaction: finish whole pageblock to reduce fragmentation (4.12, Vlastimil "
     "Babka; its v3 patch is archive id 24260322014: "
     "when a non-movable allocation's page would be stolen from another migratetype, sync "
     "compaction goes on to the end of the pageblock it is in before it reports success)"},
    {Fix::KswapdSleepAnyZone, "fix-zone-balance-check-in-prepare-kswapd-sleep",
     "mm, vmscan: fix zone balance check in prepare_kswapd_sleep (4.12, Shantanu Goel; its "
     "id is not in the stored archive: kswapd may sleep, and wake kcompactd, when one zone "
     "up to the classzone is balanced, as balance_pgdat stops; before, every zone had to be)"},
    {Fix::KswapdClasszoneSentinel, "e716f2eb24de",
     "mm, vmscan: prevent kswapd sleeping prematurely due to mismatched classzone_idx (4.12, "
     "Mel Gorman: a kswapd nobody woke keeps the classzone it balanced (MAX_NR_ZONES marks "
     "no wakeup; before, it fell back to zone 0), and pgdat_balanced() checks the zones from "
     "the lowest)"},
    {Fix::KswapdFailures, "c73322d098e4",
     "mm: fix 100% CPU kswapd busyloop on unreclaimable nodes (4.12, Johannes Weiner: after "
     "16 balance_pgdat runs that reclaim nothing, the node is hopeless: kswapd sleeps and "
     "wakeups leave it to direct reclaim; before, kswapd looped at 100% CPU on a node whose "
     "memory it could not reclaim)"},
    {Fix::ShrinkSlabPriority, "9092c71bb724",
     "mm: use sc->priority for slab shrink targets (4.16, Josef Bacik: a shrinker is asked "
     "to scan its count >> priority, four times over divided by its seeks, plus what "
     "earlier calls deferred; before, the share of the LRU pages reclaim scanned, which "
     "kswapd with nothing on the LRU raised to SWAP_CLUSTER_MAX: twice the count)"},
    {Fix::ShrinkSlabContended, "e496612c5130",
     "mm: do not stall register_shrinker() (4.16, Minchan Kim: shrink_slab stops after the "
     "shrinker it is in when a task waits for shrinker_rwsem)"},
    {Fix::KcompactdWhenKswapdCannot, "wakeup-kcompactd-even-if-kswapd-cannot-free-more-memory",
     "mm, page_alloc: wakeup kcompactd even if kswapd cannot free more memory (4.17, David "
     "Rientjes; its id is not in the stored archive: wakeup_kswapd on a hopeless or "
     "balanced node wakes kcompactd for a caller that cannot reclaim directly; before, "
     "nothing)"},
    {Fix::ShrinkSlabMinDelta, "172b06c32b94",
     "mm: slowly shrink slabs with a relatively small number of objects (4.19, Roman "
     "Gushchin: a shrinker is asked for at least min(count, batch) a call, at every "
     "priority)"},
    {Fix::ShrinkSlabMinDeltaReverted, "a9a238e83fbb",
     "Revert \"mm: slowly shrink slabs with a relatively small number of objects\" (5.0, "
     "Dave Chinner: 172b06c32b94's minimum goes)"},
    {Fix::AllocNoFragment, "6bb154504f8b",
     "mm, page_alloc: spread allocations across zones before introducing fragmentation "
     "(5.0, Mel Gorman: the fast path of an allocation whose preferred zone is ZONE_NORMAL "
     "carries ALLOC_NOFRAGMENT; __rmqueue_fallback then steals only free blocks of at "
     "least a pageblock, so a lower zone is tried before a pageblock is mixed, and when "
     "every zone fails the zonelist is walked again without the flag; before, the first "
     "zone with free pages fell back to any order)"},
    {Fix::AllocFlagsKswapd, "0a79cdad5eb2",
     "mm: use alloc_flags to record if kswapd can wake (5.0, Mel Gorman: "
     "alloc_flags_nofragment and gfp_to_alloc_flags record ALLOC_KSWAPD, which "
     "1c30844d2dfe's boost reads, and "
     "in the rework no longer sets ALLOC_NOFRAGMENT: 5.0 never avoids fragmentation so)"},
    {Fix::WatermarkBoost, "1c30844d2dfe",
     "mm: reclaim small amounts of memory when an external fragmentation event occurs (5.0, "
     "Mel Gorman: a fallback that steals pages of another migratetype below a pageblock "
     "raises the zone's watermark_boost by a pageblock, up to 150% of its high watermark, "
     "which every watermark check adds, and wakes kswapd; kswapd's balance_pgdat() "
     "reclaims the boost without writeback, swap or the shrinkers, gives the boosted pass "
     "up when it reclaims nothing, takes the boost it saw off the watermarks and wakes "
     "kcompactd at pageblock_order; the boost rises only with kswapd=True)"},
    {Fix::BoostWakeOutsideZoneLock, "73444bc4d8f9",
     "mm, page_alloc: do not wake kswapd with zone lock held (5.0, Mel Gorman: the steal "
     "sets ZONE_BOOSTED_WATERMARK, and rmqueue() wakes kswapd for it after dropping "
     "zone->lock; before, 1c30844d2dfe woke kswapd under the lock, which lockdep reported "
     "as a possible circular dependency with the wait queue's lock)"},
    {Fix::BoostNoDivisionByZero, "fix-division-by-zero-when-boosting-watermarks",
     "mm, page_alloc: fix a division by zero error when boosting watermarks v2 (5.0-rc7, Mel "
     "Gorman; its upstream id is not in the stored archive, the patch is archive id "
     "25396370234: a zone whose high watermark is 0 is not boosted; before, its boost "
     "became a pageblock)"},
    {Fix::AllocNoFragmentRestored, "fix-never-set-alloc-nofragment",
     "mm/page_alloc.c: fix never set ALLOC_NOFRAGMENT flag (Andrey Ryabinin, April 2019, "
     "for 5.1 with its patch 1/2, 8139ad043d63; its upstream id is not in the stored "
     "archive; the patch is archive id 14460765755: \"Commit 0a79cdad5eb2 ... removed "
     "setting of the ALLOC_NOFRAGMENT flag. Bring it back.\")"},
    {Fix::BoostIgnoredForIsolation, "ignore-the-boost-for-isolation-and-compaction",
     "mm, compaction: ignore the fragmentation avoidance boost for isolation and compaction "
     "(5.1, Mel Gorman; its upstream id is not in the stored archive, the patch is archive "
     "id 26080954855: __isolate_free_page() tests the min watermark without the boost, so "
     "compaction's free scanner may still isolate while a zone is boosted)"},
    {Fix::KswapdKeepsClasszone, "dffcac2cb88e",
     "mm/vmscan.c: prevent useless kswapd loops (5.3, Shakeel Butt: a kswapd that could not "
     "sleep and was not woken again reclaims for the classzone of its last run; before, "
     "kswapd_classzone_idx(pgdat, 0) made it zone 0's)"},
    {Fix::BoostShrinksSlab, "do-not-special-case-slab-reclaim-when-boosted",
     "mm, vmscan: do not special-case slab reclaim when watermarks are boosted (5.3, Mel "
     "Gorman; its upstream id is not in the stored archive, the patch is archive id "
     "36924287114: boosted reclaim calls the shrinkers again; 1c30844d2dfe had left them out "
     "(sc.may_shrinkslab), which Dave Chinner's XFS inode cache report showed)"},
    {Fix::BoostSmallZones, "14f69140ff9c",
     "mm: limit boost_watermark on small zones (5.7 and 5.4.41, Henry Willard: a zone of "
     "fewer than four pageblocks is not boosted; before, a boost of a pageblock could put "
     "its min watermark above its free memory, and a small machine failed its allocations "
     "at once: a kdump capture kernel ran out of memory with more than half of it free)"},
    {Fix::AtomicIgnoresBoost, "f80b08fc4453",
     "mm, page_alloc: skip ->watermark_boost for atomic order-0 allocations (5.9, Charan "
     "Teja Reddy, with its -fix: an order-0 __GFP_ATOMIC allocation that fails the min "
     "watermark tests it again without the boost; before, boosted zones failed atomic "
     "allocations with plenty of memory free, on Android and, Ralph Siemsen reported, on "
     "5.4 with 256 MB)"},
    {Fix::BoostWakeOnlyIfBoosted, "597c892038e0",
     "mm: don't wake kswapd prematurely when watermark boosting is disabled (5.11, Johannes "
     "Weiner: boost_watermark() returns whether it boosted, and only then is "
     "ZONE_BOOSTED_WATERMARK set; before, a steal in a zone 14f69140ff9c leaves unboosted "
     "still woke kswapd, which then reclaimed a node above its low watermark)"},
    {Fix::RmqueueWakeNeedsKswapd, "dont-wake-kswapd-from-rmqueue-without-kswapd-reclaim",
     "mm/page_alloc: don't wake kswapd from rmqueue() unless __GFP_KSWAPD_RECLAIM is "
     "specified (6.5, Tetsuo Handa; the stored archive has its title in the 6.5 mm "
     "shortlog, archive id 8067010704, and linux-next's ids, not its upstream id or its "
     "report: rmqueue() wakes kswapd for a boost only for a caller with ALLOC_KSWAPD, and "
     "leaves ZONE_BOOSTED_WATERMARK set for the next one)"},
    {Fix::FallbackOnlyHigherOrder, "only-search-higher-order-when-fallback",
     "mm/page_alloc: only search higher order when fallback (Abel Wu, August 2022, in "
     "6.1; its upstream id is not in the stored archive, the patch is archive id "
     "11866572260: ALLOC_NOFRAGMENT raises __rmqueue_fallback's lowest order to "
     "pageblock_order only for allocations below it; before, an allocation above "
     "pageblock_order searched down to it and could steal pageblocks smaller than itself)"},
    {Fix::CompactionCapture, "5e1f0f098b46",
     "mm, compaction: capture a page under direct compaction (5.1, Mel Gorman: while a "
     "task compacts a zone for an allocation, current->capture_control points at its "
     "capture_control, and __free_one_page hands a block of cc->order freed in that zone "
     "(not in a movable pageblock below pageblock_order, CMA or isolated) to it instead of "
     "the free lists; compaction stops with COMPACT_SUCCESS and the allocation takes that "
     "block; before, freed blocks went to the free lists, where any CPU could take them)"},
    {Fix::CaptureAlwaysUsed, "always-use-a-captured-page",
     "mm, page_alloc: always use a captured page regardless of compaction result (5.1-rc, "
     "Mel Gorman, for Li Wang's WARNING in __alloc_pages_direct_compact; the patch is "
     "archive id 14450450401, its upstream id is not in the stored archive: "
     "__alloc_pages_direct_compact no longer returns early for a compaction that was "
     "deferred or skipped, whose WARN_ON_ONCE(page) fired, and whose captured page was "
     "lost, when an interrupt freed a block while the capture control was exposed; since, "
     "such a compaction counts a stall and its captured page or the freelists are tried)"},
    {Fix::CaptureSafeWrtInterrupts, "b9e20f0da1f5",
     "mm, compaction: make capture control handling safe wrt interrupts (5.8, Vlastimil "
     "Babka, for Hugh Dickins's report; its 5.4.y backport is archive id 47272195586: "
     "compact_zone_order hides current->capture_control before it reads the captured "
     "page; before, it read the page first, and a block an interrupt freed and captured "
     "in between was lost)"},
    {Fix::CompactAlwaysFinishPageblock, "efe771c7603b",
     "mm, compaction: always finish scanning of a full pageblock (5.1, Mel Gorman: "
     "__compact_finished goes on while the migrate scanner is inside a pageblock, for every "
     "compaction for an order, which replaces baf6a9a1db5a's cc->finishing_block; "
     "before, a compaction for a movable page stopped at the first suitable free page)"},
    {Fix::CompactFinishOnContention, "cb2dcaf023c2",
     "mm, compaction: finish pageblock scanning on contention (5.1, Mel Gorman: async "
     "compaction that finds the LRU or zone lock contended records it, takes the lock "
     "anyway, isolates the rest of the pageblock in one batch and reports COMPACT_CONTENDED "
     "once the pageblock is done; before, it backed out of the lock and stopped at once)"},
    {Fix::LruIsolateBeforeLock, "9df41314390b",
     "mm/compaction: do page isolation first in compaction (5.11, Alex Shi, with Hugh "
     "Dickins's fixes; the v19 patch is archive id 24072428280: isolate_migratepages_block "
     "takes a reference (get_page_unless_zero) and clears PG_lru (d25b5bd8a8f4's "
     "TestClearPageLRU) before it takes the LRU lock, and drops a rejected page's "
     "reference outside the lock; before, it checked PG_lru again under the lock and "
     "__isolate_lru_page took the reference and cleared the bit there)"},
    {Fix::IsolateChecksInline, "89f6c88a6ab4",
     "mm: __isolate_lru_page_prepare() in isolate_migratepages_block() (5.18, Hugh "
     "Dickins: the checks of __isolate_lru_page_prepare move inline; the pinned-page and "
     "GFP_NOFS checks share one page_mapping() read, and PG_unevictable is read only when "
     "the mode does not take unevictable pages; before, a GFP_NOFS compaction read "
     "page->mapping twice, and every scanner read PG_unevictable)"},
    {Fix::LruRefBeforePinnedCheck, "829ae0f81ce0",
     "mm: migrate: fix THP's mapcount on isolation (6.1, Gavin Shan: isolate_migratepages_"
     "block takes its reference before the pinned-page check, which allows for it "
     "(page_count - 1 > total_mapcount), and the GFP_NOFS check, both of which now drop "
     "it; before, both looked at the page without a reference of their own)"},
    {Fix::IsolationStopsWithPagesToMigrate, "d20bdd571ee5",
     "mm/compaction: stop isolation if too many pages are isolated and we have pages to "
     "migrate (5.10: isolate_migratepages_block returns at once when too_many_isolated() "
     "and cc->nr_migratepages, instead of waiting in congestion_wait for pages it holds)"},
    {Fix::MigrateFreedPageFirst, "handle-freed-page-at-the-first-place",
     "mm: migrate: handle freed page at the first place (Yang Shi, 5.5; its upstream id is "
     "not in the stored archive: unmap_and_move is done with a page freed from under it "
     "before it allocates a new page for it, instead of allocating one and freeing it)"},
    {Fix::PageWaiters, "62906027091f",
     "mm: add PageWaiters indicating tasks are waiting for a page bit (4.10: a task about to "
     "sleep on a page bit sets PG_waiters, and unlock_page wakes the page's waiters only if "
     "it is set)"},
    {Fix::AtomicPageIsolated, "356ea3865687",
     "mm/migrate: fix race between lock page and clear PG_Isolated (5.18: the VM sets and "
     "clears PG_isolated with atomic bit operations; the non-atomic __ClearPageIsolated under "
     "the page lock could store page->flags without the PG_waiters bit a lock_page waiter had "
     "just set, and unlock_page then woke nobody)"},
    {Fix::FreedPageNoLock, "160088b3b6d7",
     "mm/migration: remove unneeded lock page and PageMovable check (6.0: unmap_and_move "
     "leaves a non-LRU page freed from under it unlocked; free_pages_prepare clears its "
     "PG_isolated)"},
    {Fix::MigrateFailedToRetList, "dd4ae78a21fc",
     "mm: migrate: simplify the logic for handling permanent failure (5.11, Yang Shi: a page "
     "that failed for good goes on a list that migrate_pages splices back onto `from`, and "
     "the caller's putback_movable_pages puts it back; before, unmap_and_move put it back "
     "at once)"},
    {Fix::MigrateBatch, "2ef7dbb26990",
     "migrate_pages: try migrate in batch asynchronously firstly (6.3, Huang Ying, closing "
     "5dfab109d519's batch migration as 6.3 released it: migrate_folio_unmap allocates a "
     "new page and locks both pages for every page of the list, then migrate_folio_move "
     "moves them in turn; SYNC_LIGHT and SYNC first try the batch asynchronously, then each "
     "page left alone, and lock_page no longer waits for pass 3)"},
    {Fix::SyncLightNoWaitNotUptodate, "4bb6dc79d987",
     "migrate_pages: avoid blocking for IO in MIGRATE_SYNC_LIGHT (6.5, Douglas Anderson: "
     "SYNC_LIGHT migration gives up a locked page that is not uptodate, as zsmalloc's and "
     "the balloon's never are, instead of sleeping on its lock)"},
    {Fix::CompactionFsThrottle, "4fbbb3fde3c6",
     "mm: compaction: avoid GFP_NOFS ABBA deadlock (6.5, Johannes Weiner: too_many_isolated "
     "compares the isolated pages with an eighth of the LRU for a compaction that may enter "
     "the file system, so it throttles before a GFP_NOFS one)"},
    {Fix::ReclaimThrottleIsolated, "d818fca1cac3",
     "mm/vmscan: throttle reclaim and compaction when too may pages are isolated (5.16, Mel "
     "Gorman: isolate_migratepages_block waits in reclaim_throttle(VMSCAN_THROTTLE_ISOLATED), "
     "HZ/50, instead of congestion_wait, HZ/10; a kthread other than kswapd is not "
     "throttled and loops at once)"},
    {Fix::ReclaimThrottleResched, "b485c6f1f9f5",
     "mm: vmscan: remove deadlock due to throttling failing to make progress (5.17, Mel "
     "Gorman: the kthread reclaim_throttle does not throttle calls cond_resched, so that "
     "kcompactd's loop on too_many_isolated lets the tasks of its CPU run without "
     "CONFIG_PREEMPT)"},
    {Fix::VmOwnsPgIsolated, "vm-owns-pg-isolated",
     "v4: the VM sets and clears PG_isolated under the page lock; drivers never touch it"},
    {Fix::MovableMappingBit, "movable-mapping-bit",
     "v4: PG_movable is page->mapping & 0x2; __ClearPageMovable keeps the bit, drops the pointer"},
    {Fix::RaceWithoutPageLock, "race-without-page-lock",
     "v4 (Vlastimil Babka's review of v3 02/16): putback_movable_pages and unmap_and_move "
     "handle a page the driver released under lock_page, not with an unlocked "
     "__ClearPageMovable"},
    {Fix::ZsFreeAtomic, "zs-free-atomic",
     "v4 08+11/12: zs_free stays atomic (free_zspage try-locks the pages under class->lock, "
     "defers to pool->free_work and leaves an isolated zspage to zs_page_putback); struct "
     "zspage and its migrate rwlock replace v3's first-page metadata and zspage freeze, so "
     "zs_page_isolate/migrate take class->lock instead of trying it"},
    {Fix::ZsCompactUnderClassLock, "zs-compact-under-class-lock",
     "v4 (Chulmin Kim's swap_info deadlock, on v3 12/16): __zs_compact migrates objects under "
     "class->lock, one pin at a time, not with every object of both zspages frozen and "
     "their pages locked while class->lock is dropped"},
    {Fix::ZsMovableAfterSetup, "zs-movable-after-setup",
     "v4: SetZsPageMovable marks pages movable only once the zspage is fully set up"},
    {Fix::ZsPinBitSpinLock, "1b8320b620d6",
     "zsmalloc: use bit_spin_lock (v4 05/12: a pinned handle keeps preemption disabled; "
     "before it, pin_tag looped on test_and_set_bit_lock with preemption on)"},
    {Fix::ZsCompactKeepsPinBit, "c102f07ca0b0",
     "zsmalloc: fix migrate_zspage-zs_free race condition (keep HANDLE_PIN_BIT in record_obj)"},
    {Fix::ZsMallocGfp, "zs-malloc-gfp",
     "zsmalloc: require GFP in zs_malloc() (4.7, Sergey Senozhatsky; its id is not in the "
     "stored archive: zs_malloc allocates with the gfp its caller passes; before, with the "
     "pool->flags zs_create_pool was given, GFP_NOIO | __GFP_HIGHMEM for zram's)"},
    {Fix::ZsMigrateEmptyZspage, "77ff465799c6",
     "zsmalloc: zs_page_migrate: skip unnecessary loops but not return -EBUSY if zspage is "
     "not inuse (4.14: a zspage emptied while isolated is migrated and put back on ZS_EMPTY, "
     "where before the migration failed and zs_page_putback queued its free)"},
    {Fix::ZsPutbackDeferred, "1a87aa03597e",
     "mm/zsmalloc.c: migration can leave pages in ZS_EMPTY indefinitely (5.3: "
     "putback_zspage_deferred; zs_page_migrate queues pool->free_work for an empty zspage "
     "it puts back, as zs_page_putback does)"},
    {Fix::ZsDestroyWaitsIsolated, "701d678599d0",
     "mm/zsmalloc.c: fix race condition in zs_destroy_pool (5.3: the pool counts its "
     "isolated zspages and zs_unregister_migration waits for them to be put back before it "
     "flushes the free work and frees the inode)"},
    {Fix::ZsCompactCountsLocally, "239592815805",
     "zsmalloc: account the number of compacted pages correctly (5.12: __zs_compact counts "
     "the pages it freed locally and zs_compact adds them to an atomic pool->stats."
     "pages_compacted and returns them; before, concurrent compactions lost updates of the "
     "plain counter and zs_shrinker_scan's delta counted other compactions' pages)"},
    {Fix::ZsHugeInZspage, "a41ec880aa7b",
     "zsmalloc: move huge compressed obj from page to zspage (5.17: a huge zspage is marked "
     "in struct zspage, so get_next_page() reads the page's zspage through page->private "
     "first; before, PG_owner_priv_1 of the page said it)"},
    {Fix::ZsNoZspageIsolation, "c4549b871102",
     "zsmalloc: remove zspage isolation for migration (5.17: zs_page_isolate only counts the "
     "isolation under the zspage lock and leaves the zspage on its list; zs_free frees an "
     "empty zspage whether or not a page of it is isolated; the pool's isolated count and "
     "zs_destroy_pool's wait for it go)"},
    {Fix::ZsPoolMigrateLock, "b475d42d2c43",
     "zsmalloc: replace per zpage lock with pool->migrate_lock (5.17: no handle pin bit; "
     "zs_free and zs_map_object read-lock pool->migrate_lock to find the zspage, "
     "zs_page_migrate and __zs_compact write-lock it, then class->lock, then the zspage "
     "lock)"},
    {Fix::ZsLockZspageMigrateLock, "2505a981114d",
     "zsmalloc: fix races between asynchronous zspage free and page migration (5.18: "
     "lock_zspage try-locks each page under migrate_read_lock and, when one is locked, "
     "waits for it outside the lock and looks again; before, it slept in lock_page on a "
     "page migration could take off the zspage)"},
    {Fix::MovableOperations, "68f2736a8583",
     "mm: Convert all PageMovable users to movable_operations (6.0: a zsmalloc page points "
     "at the static zsmalloc_mops, not at a pool inode's mapping; zs_destroy_pool only "
     "flushes the free work)"},
    {Fix::ZsPoolLock, "c0547d0b6a4b",
     "zsmalloc: consolidate zs_pool's migrate_lock and size_class's locks (6.2: one "
     "spinlock, pool->lock, for what pool->migrate_lock and every class->lock guarded)"},
    {Fix::ZsOneCompaction, "d2658f2052c7",
     "zsmalloc: allow only one active pool compaction context (6.4: zs_compact returns 0 at "
     "once while another compaction of the pool is in progress)"},
    {Fix::ZsIsolationUnderPoolLock, "4b5d1e47b694",
     "zsmalloc: fix races between modifications of fullness and isolated (6.5: "
     "zs_page_isolate, zs_page_putback and zs_page_migrate change the isolation count under "
     "pool->lock, which guards the fullness sharing its word; before, under the zspage lock, "
     "and a load and store of the word could undo the other's update)"},
    {Fix::ZsChainSizeLeastWaste, "6260ae358345",
     "zsmalloc: rework zspage chain size selection (6.3: a class's zspage has the number "
     "of pages, up to the chain size, that wastes least at its end; before, the first with "
     "the highest used percentage, which differs for the 208-byte class: 3 pages, not 2)"},
    {Fix::ZsChainSize8, "b46402fa894f",
     "zsmalloc: set default zspage chain size to 8 (6.3: zspages of up to 8 pages, with "
     "4ff93b292c0b's CONFIG_ZSMALLOC_CHAIN_SIZE and 5-bit isolation count; before, 4)"},
    {Fix::ZsInsertAtHead, "a40a71e8343e",
     "zsmalloc: remove insert_zspage() ->inuse optimization (6.4: a zspage goes at the head "
     "of its fullness list; before, behind the head if it had fewer objects in use)"},
    {Fix::ZsInuseRatioGroups, "4c7ac97285d8",
     "zsmalloc: fine-grained inuse ratio based fullness grouping (6.4: twelve fullness "
     "groups by the ratio of objects in use, 0, 10% steps, 99 and 100%; compaction takes "
     "sources from the emptiest, destinations from the fullest; before, four groups)"},
    {Fix::ZsCompactOneDst, "5a845e9f2d66",
     "zsmalloc: rework compaction algorithm (6.4: __zs_compact fills one destination zspage "
     "from as many sources as it takes and keeps it across sources; before, it emptied one "
     "source into as many destinations as it took)"},
    {Fix::ZsCompactResetSrc, "f7ddb6125683",
     "zsmalloc: reset compaction source zspage pointer after putback_zspage() (6.4: before, "
     "a source compaction had not emptied stayed in src_zspage, and the end of "
     "__zs_compact put it back and unlocked it a second time)"},
    {Fix::BalloonDequeueUnderLock, "balloon-dequeue-under-lock",
     "virtio_balloon: fix race between migration and ballooning (4.5, Minchan Kim; its id is "
     "not in the stored archive: balloon_page_dequeue holds pages_lock around the whole list "
     "walk)"},
    {Fix::BalloonReleaseUnderLock, "f68b992bbb47",
     "virtio_balloon: fix race by fill and leak (4.5, Minchan Kim: leak_balloon frees its "
     "pages in release_pages_balloon before it drops balloon_lock; before, a fill_balloon "
     "could rewrite vb->pfns and vb->num_pfns while the release read them)"},
    {Fix::BalloonLeakCapsNumPages, "37cf99e08c6f",
     "balloon: check the number of available pages in leak balloon (4.8 and 4.7.y, "
     "Konstantin Neumoin: leak_balloon releases at most vb->num_pages; before, a request for "
     "more, as the OOM notifier's fixed count makes, reached the BUG() in "
     "balloon_page_dequeue on an empty balloon)"},
    {Fix::BalloonDeflateViaList, "195a8c43e93d",
     "virtio-balloon: deflate via a page list (4.13: leak_balloon links the pages it "
     "dequeues on a local list through page->lru, and release_pages_balloon frees them off "
     "it instead of by their pfns)"},
    {Fix::BalloonAllocOutsideLock, "c7cdff0e8647",
     "virtio_balloon: fix deadlock on OOM (4.15: fill_balloon allocates its pages with "
     "balloon_page_alloc before it takes balloon_lock, then enqueues them; before, "
     "balloon_page_enqueue allocated each page under balloon_lock)"},
    {Fix::BalloonListInterfaces, "418a3ab1e778",
     "mm/balloon_compaction: List interfaces (5.3: balloon_page_enqueue takes pages_lock "
     "before the page lock, in balloon_page_enqueue_one; as merged, enqueue_one also "
     "list_del'ed the page)"},
    {Fix::BalloonEnqueueNoDoubleDel, "avoid-duplicate-page-removal",
     "mm/balloon_compaction: avoid duplicate page removal (Wei Wang, 5.3-rc3; its upstream "
     "id is not in the stored archive: balloon_page_enqueue_one no longer list_dels a page "
     "virtio's fill_balloon already took off its list)"},
    {Fix::BalloonShrinker, "71994620bb25",
     "virtio_balloon: replace oom notifier with shrinker (4.19, Wei Wang: with "
     "VIRTIO_BALLOON_F_DEFLATE_ON_OOM the balloon deflates from reclaim, "
     "virtio_balloon_shrinker_scan calling leak_balloon in a loop until nr_to_scan pages; "
     "virtballoon_oom_notify is gone)"},
    {Fix::BalloonShrinkerScanCount, "fix-shrinker-scan-number-of-pages",
     "virtio_balloon: fix shrinker scan number of pages (5.4-rc8, Michael S. Tsirkin, v2 "
     "archive id 17710464262; its upstream id is not in the stored archive: the loop adds up "
     "what it freed against nr_to_scan; before, every pass subtracted the running total from "
     "what was left, so a short pass, as compaction's isolated pages make, could wrap "
     "pages_to_free and deflate the whole balloon)"},
    {Fix::BalloonOomNotifier, "da10329cb057",
     "virtio-balloon: switch back to OOM handler for VIRTIO_BALLOON_F_DEFLATE_ON_OOM (5.7, "
     "David Hildenbrand: virtio_balloon_oom_notify deflates VIRTIO_BALLOON_OOM_NR_PAGES "
     "again; the shrinker stays only for free page hinting, which the model does not have)"},
    {Fix::ZramPerCpuStreams, "da9556a2367c",
     "zram: user per-cpu compression streams (4.7, Sergey Senozhatsky: each CPU compresses "
     "with its own stream, and zs_malloc tries without direct reclaim first, then with it "
     "after dropping the stream and compressing again; before, every write took the "
     "device's one stream's mutex before its zero-page check and held it through one "
     "zs_malloc and the copy)"},
    {Fix::ZramGfpMovable, "zram-gfp-movable",
     "zram: use __GFP_MOVABLE for memory allocation (4.8, Minchan Kim, the last patch of the "
     "non-LRU migration series; its id is not in the stored archive: zram's zs_malloc asks "
     "for movable pages, which zsmalloc can migrate since the series)"},
    {Fix::ZramWriteback, "db8ffbd4e763",
     "zram: write incompressible pages to backing device (4.14, Minchan Kim; with the rest of "
     "its series, 'logically not bisectable': the backing_dev interface, the block bitmap "
     "under bitmap_lock, and the read side. An incompressible page goes to a block of the "
     "backing device, its slot ZRAM_WB; freeing the slot frees the block)"},
    {Fix::ZramHugeClassSize, "drop-max-zpage-size",
     "zram: drop max_zpage_size and use zs_huge_class_size() (4.17, Sergey Senozhatsky, with "
     "'zsmalloc: introduce zs_huge_class_size()'; its id is not in the stored archive: a page "
     "is stored uncompressed when it compresses to at least zsmalloc's huge class size, the "
     "largest class of more than one page and object less ZS_HANDLE_SIZE - 1, not above "
     "3/4 of a page)"},
    {Fix::ZramFreeNotifyTrylock, "3c9959e02547",
     "zram: fix lockdep warning of free block handling (5.0, Minchan Kim: zram_slot_free_notify, "
     "which a swap-in's bio completion calls in softirq context, only try-locks the slot and "
     "counts a miss in miss_free; the block bitmap is lockless, test_and_set_bit, so no "
     "bitmap_lock is taken in softirq)"},
    {Fix::ZramIdleFlag, "e82592c4fd7e",
     "zram: introduce ZRAM_IDLE flag (5.0, Minchan Kim: the idle attribute marks every "
     "allocated slot ZRAM_IDLE; zram_bvec_rw ends every read and write with zram_accessed, "
     "which clears it under the slot lock, and zram_free_page clears it)"},
    {Fix::ZramIdleHugeWriteback, "a939888ec38b",
     "zram: support idle/huge page writeback (5.0, Minchan Kim: zram_bvec_write keeps an "
     "incompressible page in memory, and writeback_store writes slots back on request, "
     "marking each ZRAM_UNDER_WB while it writes; its test of the mode (huge or idle) never "
     "skips a slot until 1d69a3f8ae77; with the series' refactoring, the block bitmap's "
     "functions are alloc_block_bdev and free_block_bdev, and __zram_bvec_read takes the slot "
     "lock once)"},
    {Fix::ZramBdStat, "23eddf39b2c2",
     "zram: add bd_stat statistics (5.0, Minchan Kim: atomic counters of the blocks in use on "
     "the backing device, of its reads and of writeback_store's writes)"},
    {Fix::ZramWritebackThrottle, "bb416d18b850",
     "zram: writeback throttle (5.0, Minchan Kim: writeback_limit, a budget in 4K units that "
     "each write-back takes one from with atomic64_add_unless; the one that takes the last "
     "sets stop_writeback, which ends writeback_store's next loop with -EIO until 0 is "
     "written to the limit; 0 means no limit)"},
    {Fix::ZramIdleWritebackCleanup, "1d69a3f8ae77",
     "zram: idle writeback fixes and cleanup (5.0, Minchan Kim: writeback_store skips a slot "
     "that is not idle, or not huge, as the mode asks; before, its test never skipped one; the "
     "limit is on only with writeback_limit_enable, and the budget and the enable are read and "
     "written under wb_limit_lock)"},
    {Fix::SwapNoSlotFreeNotify, "e914d8f00391",
     "mm: fix unexpected zeroed page mapping with zram swap (5.18, Minchan Kim: "
     "swap_slot_free_notify is gone, so neither end_swap_bio_read nor swap_readpage frees "
     "the zram slot of a page read in; swap_free frees it once the pte maps the page)"},
    {Fix::Z3foldFirstNumLimit, "f201ebd87652",
     "mm/z3fold.c: limit first_num to the actual range of possible buddy indexes (4.11, zhong "
     "jiang: first_num is two bits and a handle's buddy index (bud + first_num) & 0x3; before, "
     "six bits and & 63, the same buddy for another handle value)"},
    {Fix::Z3foldHeaderSize, "z3fold-fix-header-size-related-issues",
     "z3fold: fix header size related issues (4.11, Vitaly Wool; its id is not in the stored "
     "archive: num_free_chunks counts the chunks after a middle object to the page's end; "
     "before, to one chunk short of it)"},
    {Fix::Z3foldExtendCompaction, "1b096e5ae9f7",
     "z3fold: extend compaction function (4.11, Vitaly Wool: z3fold_compact_page also moves a "
     "middle object next to the first object, or next to the last, when that frees at least "
     "BIG_CHUNK_GAP chunks; before, only a lone middle object moved, to the front)"},
    {Fix::Z3foldPerPageLock, "z3fold-use-per-page-spinlock",
     "z3fold: use per-page spinlock (4.11, Vitaly Wool; its id is not in the stored archive: "
     "a page's header is under zhdr->page_lock, pool->lock guards the lists only; "
     "z3fold_alloc takes a page off its unbuddied list under pool->lock and locks it after, "
     "z3fold_free leaves a page that is on no list to the allocation; before, pool->lock "
     "covered every operation but the eviction)"},
    {Fix::Z3foldKref, "5a27aa822029",
     "z3fold: add kref refcounting (4.11, Vitaly Wool: a page is freed by its last "
     "kref_put, under pool->lock; reclaim holds a reference instead of UNDER_RECLAIM, the "
     "buddied list is gone, and z3fold_free frees a headless page at once)"},
    {Fix::Z3foldReclaimUnlock, "z3fold-fix-spinlock-unlocking-in-page-reclaim",
     "z3fold: fix spinlock unlocking in page reclaim (4.11, Vitaly Wool, reported by Alexey "
     "Khoroshilov; its id is not in the stored archive: z3fold_reclaim_page unlocks pool->lock "
     "when its kref_put freed the page; before, it returned with the lock held)"},
    {Fix::Z3foldAllocTrylock, "z3fold-fix-page-locking-in-z3fold-alloc",
     "z3fold: fix page locking in z3fold_alloc() (4.11, Vitaly Wool; its id is not in the "
     "stored archive: z3fold_alloc try-locks a page before it drops pool->lock, and looks at "
     "the next list if that fails; before, it locked the page after, and z3fold_free could "
     "put the page it had taken on an unbuddied list meanwhile)"},
    {Fix::Z3foldPerCpuLists, "d30561c56f41",
     "z3fold: use per-cpu unbuddied lists (4.14, Vitaly Wool: each CPU has its unbuddied "
     "lists, z3fold_free queues the compaction on compact_wq and a released page goes to "
     "pool->stale for release_wq, whose page z3fold_alloc may reuse; reclaim walks the LRU "
     "for a page it can lock; the header grows to two chunks)"},
    {Fix::Z3foldReclaimLockEarly, "z3fold-fix-potential-race-in-z3fold-reclaim-page",
     "z3fold: fix potential race in z3fold_reclaim_page (4.14, Vitaly Wool; its id is not in "
     "the stored archive: reclaim takes pool->lock before its kref_put; before, another "
     "task's put could release the page between the two, and reclaim put the released page "
     "back on pool->lru)"},
    {Fix::Z3foldStaleListHandling, "z3fold-fix-stale-list-handling",
     "z3fold: fix stale list handling (4.14, Vitaly Wool; its id is not in the stored "
     "archive: __release_z3fold_page clears NEEDS_COMPACTING; before, free_pages_work did, "
     "and z3fold_alloc cleared it in page->private before it had set page to the stale "
     "page it took: a NULL pointer dereference)"},
    {Fix::Z3foldKrefCompact, "5d03a6613957",
     "mm/z3fold.c: use kref to prevent page free/compact race (4.15, Vitaly Wool: "
     "z3fold_free takes a page reference for the compaction it runs or queues, which "
     "do_compact_page drops; before, a compaction waiting for the page lock could go on "
     "with a page its last free had released)"},
    {Fix::Z3foldStaleOnlyIfCanSleep, "z3fold-limit-use-of-stale-list-for-allocation",
     "z3fold: limit use of stale list for allocation (4.17, Vitaly Wool; its id is not in "
     "the stored archive: z3fold_alloc takes a stale page only when it may sleep, and "
     "cancels its work; before, also when the work was not pending, without cancelling it)"},
    {Fix::Z3foldAllowBlocking, "z3fold-use-gfpflags-allow-blocking",
     "z3fold: Use gfpflags_allow_blocking (4.17, Matthew Wilcox; its id is not in the "
     "stored archive: can_sleep is __GFP_DIRECT_RECLAIM; before, both __GFP_RECLAIM bits)"},
    {Fix::Z3foldReclaimLockups, "z3fold-fix-reclaim-lock-ups",
     "z3fold: fix reclaim lock-ups (4.17, Vitaly Wool, reported by Guenter Roeck; its id is "
     "not in the stored archive: reclaim takes one page per retry and marks it "
     "UNDER_RECLAIM, z3fold_free leaves such a page's compaction to it, and reclaim drops "
     "its reference without pool->lock; before, its walk locked every page it could, and "
     "its last put took pool->lock, which it held)"},
    {Fix::Z3foldReclaimRaces, "ca0246bb97c2",
     "z3fold: fix possible reclaim races (4.20, Vitaly Wool, reported by Jongseok Kim: "
     "PAGE_CLAIMED replaces UNDER_RECLAIM; reclaim claims each page it looks at and "
     "passes over a claimed one; z3fold_free leaves a headless page reclaim claimed; a LAST "
     "handle carries the object's size, which z3fold_map uses. Before, z3fold_free and "
     "reclaim both freed an evicted headless page)"},
    {Fix::Z3foldHelperFunctions, "z3fold-introduce-helper-functions",
     "mm/z3fold.c: introduce helper functions (5.2, Vitaly Wool; its id is not in the stored "
     "archive; \"No functional changes here\", but do_compact_page's add_to_unbuddied lost "
     "the test that the page still holds an object: a page emptied while another held it "
     "goes on unbuddied[NCHUNKS], past the end of the per-CPU array)"},
    {Fix::Z3foldExtendSearch, "z3fold-extend-search",
     "mm/z3fold.c: improve compression by extending search (5.2, Vitaly Wool; its id is not "
     "in the stored archive: __z3fold_alloc takes an exact fit from another CPU's unbuddied "
     "list when its own CPU's lists have no page with room)"},
    {Fix::Z3foldBuddySlots, "7c2b8baa61fe",
     "mm/z3fold.c: add structure for buddy handles (5.2, Vitaly Wool: a handle is the "
     "address of a slot in a per-page struct z3fold_buddy_slots, which z3fold_free's "
     "free_handle frees with the last handle; the header's pool is found through the "
     "slots. Before, a handle was the header's address plus the buddy's index)"},
    {Fix::Z3foldMigration, "1f862989b04a",
     "mm/z3fold.c: support page migration (5.2, Vitaly Wool: pages with a header are "
     "non-LRU movable through the pool's inode, with z3fold_page_isolate, _migrate and "
     "_putback; a mapped object (mapped_count) keeps its page from migration)"},
    {Fix::Z3foldLockBeforeSetMovable, "z3fold-lock-page-before-setpagemovable",
     "mm/z3fold.c: lock z3fold page before __SetPageMovable() (5.3, Henry Burns; its id is "
     "not in the stored archive: z3fold_alloc locks a new page around __SetPageMovable, or "
     "try-locks it when it may not sleep and leaves it unmovable if that fails; before, "
     "__SetPageMovable's VM_BUG_ON_PAGE(!PageLocked(page)) fired)"},
    {Fix::Z3foldAllowHighmem, "f1549cb5ab2b",
     "mm/z3fold.c: allow __GFP_HIGHMEM in z3fold_alloc (5.3, Henry Burns: z3fold_alloc no "
     "longer returns -EINVAL for __GFP_HIGHMEM)"},
    {Fix::Z3foldMigrateNoTrylock, "be03074c9af2",
     "mm/z3fold.c: remove z3fold_migration trylock (5.3, Henry Burns: z3fold_page_migrate "
     "try-locked the old page, which migration holds locked, so it always returned -EAGAIN)"},
    {Fix::Z3foldPoolInHeader, "bb9a374dfa3a",
     "mm/z3fold: don't try to use buddy slots after free (5.3, Vitaly Wool, reported by "
     "Henry Burns: zhdr->pool is back; before, __release_z3fold_page found the pool through "
     "the slots that z3fold_free's free_handle had just freed)"},
    {Fix::Z3foldReinitAfterMigration, "c92d2f38563d",
     "mm/z3fold.c: reinitialize zhdr structs after migration (5.3, Henry Burns: "
     "z3fold_page_migrate refuses a page whose compaction work is pending and "
     "initialises the new header's work and buddy list; before, they were the old page's "
     "copies)"},
    {Fix::Z3foldDestroyOrdering, "6051d3bd3b91",
     "mm/z3fold.c: fix z3fold_destroy_pool() ordering (5.3, Henry Burns: compact_wq is "
     "destroyed before release_wq, whose work a compaction may queue)"},
    {Fix::Z3foldUnregisterAfterDrain, "b997052bc3ac",
     "mm/z3fold.c: fix z3fold_destroy_pool() race condition (5.3, Henry Burns: the pool's "
     "inode is put after both workqueues are destroyed; before, first, while pages still "
     "pointed at it)"},
    {Fix::Z3foldReclaimRetry, "z3fold-fix-retry-mechanism-in-page-reclaim",
     "z3fold: fix retry mechanism in page reclaim (5.4, Vitaly Wool, reported by Markus "
     "Linnala, Chris Murphy and Agustin Dall'Alba; its id is not in the stored archive: "
     "reclaim's walk clears its claim on every page it passes over and sets zhdr before "
     "the headless test, and the handles are encoded in slots on reclaim's stack; "
     "do_compact_page and z3fold_page_isolate leave a claimed page alone)"},
    {Fix::Z3foldHeadlessNoSlots, "63398413c00c",
     "z3fold: fix memory leak in kmem cache (5.4, Vitaly Wool, reported by Markus Linnala: "
     "init_z3fold_page allocates no slots for a headless page, which never freed them)"},
    {Fix::Z3foldClaimInFree, "5b6807de1144",
     "mm/z3fold.c: claim page in the beginning of free (5.4, Vitaly Wool, reported by "
     "Markus Linnala: z3fold_free sets PAGE_CLAIMED before anything else and clears it on "
     "the way out; before, it tested the bit after its kref_put, and a reclaim could claim "
     "the page after that test)"},
    {Fix::ZswapMapOnce, "zswap-do-not-map-same-object-twice",
     "zswap: do not map same object twice (5.4, Vitaly Wool; its id is not in the stored "
     "archive: zswap_writeback_entry keeps the object mapped from the header's read to the "
     "end; before, it unmapped it after the read and mapped it again to decompress)"},
    {Fix::Z3foldInterPageCompaction, "4a3ac9311dac",
     "mm/z3fold.c: add inter-page compaction (5.5, Vitaly Wool: a page left with one object "
     "moves it to another page (compact_single_buddy), whose foreign_handles count keeps it "
     "from migration and reclaim; the slots get an rwlock, and get_z3fold_header locks the "
     "page the slot names under it, retrying until the trylock succeeds; the page's release "
     "frees its slots or marks them HANDLES_ORPHANED; z3fold_free claims the page with its lock "
     "held and clears PAGE_CLAIMED before it compacts; reclaim encodes into "
     "the page's slots and frees what it evicted. Before, handle_to_z3fold_header read the "
     "slot unlocked and its callers then waited for that page's lock, free_handle freed a "
     "slots array whose last handle went, and z3fold_free compacted a full page with its "
     "own claim still set, so do_compact_page never listed the page again)"},
    {Fix::Z3foldFreeHandleWriteLock, "d8f117abb380",
     "z3fold: fix use-after-free when freeing handles (5.7, Uladzislau Rezki: free_handle "
     "keeps the slots' write lock from zeroing a foreign handle through its test of "
     "HANDLES_ORPHANED, so a release of the old page cannot free the slots in between; "
     "before, it dropped the lock and took the read lock again; and init_z3fold_page sets "
     "mapped_count)"},
    {Fix::Z3foldFreeHandleFreesSlots, "fc5488651c7d",
     "z3fold: simplify freeing slots (5.11 and 5.10.4, Vitaly Wool: free_handle frees a "
     "slots array whose last handle it frees, the page's own included, and the page's "
     "release leaves its slots alone; before, the release freed them, or marked them "
     "HANDLES_ORPHANED for the last foreign handle's free_handle to free)"},
    {Fix::Z3foldStricterLocking, "dcf5aedb24f8",
     "z3fold: stricter locking and more careful reclaim (5.11 and 5.10.4, Vitaly Wool; its "
     "message is not in the stored archive: PAGE_CLAIMED is set under the page lock, by "
     "isolation too, and reclaim encodes the handles in slots of its own (HANDLES_NOFREE) "
     "instead of freeing the user's; before, reclaim claimed each page it looked at before "
     "its trylock, and a claimed or isolated page stopped compaction and z3fold_free's)"},
    {Fix::Z3foldHeadlessReclaimClaim, "6d679578fe9c",
     "z3fold: prevent reclaim/free race for headless pages (5.12, Thomas Hebb: reclaim "
     "claims a headless page before it takes it, as it did before dcf5aedb24f8; without "
     "it z3fold_free and reclaim both free the page)"},
    {Fix::Z3foldMigratedFlag, "943fb61dd66f",
     "mm/z3fold: fix z3fold_page_migrate races with z3fold_map (5.19, Miaohe Lin: "
     "z3fold_page_migrate marks the old page PAGE_MIGRATED instead of clearing page->private, "
     "and get_z3fold_header looks at the slot again when it locked such a page, instead of "
     "returning the header a migration is about to free)"},
    {Fix::Z3foldClaimedUnderLock, "4a1c3839108a",
     "mm/z3fold: always clear PAGE_CLAIMED under z3fold page lock (5.19, Miaohe Lin: a "
     "z3fold_free that took the lock after a failed migration unlocked the page, but before it "
     "cleared PAGE_CLAIMED, took the page for claimed and skipped free_handle: the slots leaked)"},
    {Fix::Z3foldPutbackUnbuddied, "6cf9a34967ed",
     "mm/z3fold: put z3fold page back into unbuddied list when reclaim or migration fails "
     "(5.19, Miaohe Lin: z3fold_page_putback adds the page to an unbuddied list again; before, "
     "its free space was out of z3fold_alloc's reach until its next free)"},
    {Fix::Z3foldNoStaleReuse, "df6f0f1d0cf0",
     "mm/z3fold: remove buggy use of stale list for allocation (5.19, Miaohe Lin: a z3fold_alloc "
     "that may sleep no longer takes a page off pool->stale; it allocates a new page)"},
    {Fix::Z3foldReclaimRefUnderLock, "04094226d6ce",
     "mm/z3fold: fix z3fold_reclaim_page races with z3fold_free (5.19, Miaohe Lin: reclaim takes "
     "its reference on a page under the page lock; before, a kref_get_unless_zero ahead of the "
     "trylock let a racing z3fold_free leave the last put to reclaim, which released the page "
     "with pool->lock held: a WARN on the page's unbuddied link, then a pool->lock deadlock)"},
    {Fix::Z3foldNoHighmem, "f4bad643c1d6",
     "revert \"mm/z3fold.c: allow __GFP_HIGHMEM in z3fold_alloc\" (5.19, Miaohe Lin: "
     "z3fold_alloc returns -EINVAL for __GFP_HIGHMEM)"},
    {Fix::Z3foldFreeNoBuddyDel, "z3fold-free-no-buddy-del",
     "mm/z3fold: remove redundant list_del_init of zhdr->buddy in z3fold_free (5.19, Miaohe "
     "Lin; its id is not in the stored archive: z3fold_free no longer takes pool->lock to "
     "unlink a header whose cpu is -1, which is on no unbuddied list)"},
    {Fix::Z3foldNoLru, "e774a7bc7f0a",
     "mm: zswap: remove shrink from zpool interface (6.5, Domenico Cerasuolo: z3fold has no "
     "pool->lru and no z3fold_reclaim_page; alloc, free, isolation, migration and putback no "
     "longer link the page on the pool's LRU)"},
}};

}  // namespace

const FixInfo& fix_info(Fix f) { return kFixes[size_t(f)]; }

std::optional<Fix> fix_by_name(std::string_view name) {
  for (const auto& f : kFixes)
    if (name == f.name) return f.fix;
  return std::nullopt;
}

}  // namespace pagesim
