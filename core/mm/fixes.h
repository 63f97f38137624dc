// Named fixes: each behaviour difference between kernel versions is a fix a preset turns
// on or off (kernel/preset.h), named by upstream commit or patch version.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pagesim {

enum class Fix : uint8_t {
  // mm/migrate.c, mm/compaction.c
  PutPageAfterMigration,     // c6c919eb90e0: a migrated page is freed by put_page, not the LRU
  NonLruMigration,           // bda807d44454: compaction isolates non-LRU movable pages at all
  BalloonNonLruMovable,      // b1123ea6d3b3: the balloon uses the non-LRU movable interface
  NrIsolatedLruOnly,         // 6afcf8ef0ca0: NR_ISOLATED_* counts LRU pages only
  // 4.5 to 4.7 (on v4.4)
  Kcompactd,                 // 698b1b30642f (4.6): kcompactd, woken by kswapd, compacts in the background
  SkipOnFailure,             // fdd048e12c9a (4.7): async direct compaction gives up an order block at a failure
  AbortFreeScannerOnSplitFail,  // "abort free scanner if split fails" (4.7): stop the block at a refused split
  DeferPcpChecks,            // 479f854a207c (4.7): order-0 new-page checks only with CONFIG_DEBUG_VM
  // 4.9 compaction (Vlastimil Babka's series)
  CompactionAllocWatermark,  // "use correct watermark when checking compaction success" (4.9)
  CompactionMinWatermark,    // 8348faf91f56: min watermark (+gap) for non-costly orders
  NoWatermarkRecheckAfterSuccess,     // stop/reset on status == COMPACT_SUCCESS
  FragindexCostlyOnly,       // the fragmentation index refuses costly orders only
  CompactionGfpNofs,         // 73e64c51afc5 (4.10): GFP_NOFS requests compact (anon pages only)
  CompactFinishedNoWatermark,  // "remove redundant watermark check in compact_finished()" (4.12)
  FallbackStealThenSmallest, // 3bc48f96cf11 (4.12): a fallback moves what it steals to our lists; __rmqueue_smallest splits
  FallbackCountsMovable,     // 02aa0cdd7248 (4.12): a pageblock is claimed when free + compatible pages are half of it
  FallbackSmallestNoSteal,   // 7a8f58f39188 (4.13): a movable fallback that cannot claim the block takes the smallest page
  CompactSameMigratetype,    // 282722b0d258 (4.12): async direct compaction scans the allocation's migratetype only
  CompactFinishWholePageblock,  // baf6a9a1db5a (4.12): sync compaction for a stealing allocation ends its pageblock
  KswapdSleepAnyZone,        // "fix zone balance check in prepare_kswapd_sleep" (4.12): one balanced zone lets kswapd sleep
  KswapdClasszoneSentinel,   // e716f2eb24de (4.12): a kswapd not woken keeps the classzone it balanced
  KswapdFailures,            // c73322d098e4 (4.12): kswapd gives up a node after 16 balance_pgdat runs without progress
  ShrinkSlabPriority,        // 9092c71bb724 (4.16): shrinkers scan freeable >> priority, and defer what they leave
  ShrinkSlabContended,       // e496612c5130 (4.16): shrink_slab stops at a waiting register_shrinker
  KcompactdWhenKswapdCannot, // "wakeup kcompactd even if kswapd cannot free more memory" (4.17)
  ShrinkSlabMinDelta,        // 172b06c32b94 (4.19): a shrinker scans at least min(freeable, batch) a call
  ShrinkSlabMinDeltaReverted,  // a9a238e83fbb (5.0): the revert of 172b06c32b94
  AllocNoFragment,           // 6bb154504f8b (5.0): the fast path of a Normal-zone allocation first falls back by whole pageblocks only
  AllocFlagsKswapd,          // 0a79cdad5eb2 (5.0): alloc_flags_nofragment no longer sets ALLOC_NOFRAGMENT
  WatermarkBoost,            // 1c30844d2dfe (5.0): a fallback steal boosts the zone's watermarks until kswapd's next balance_pgdat
  BoostWakeOutsideZoneLock,  // 73444bc4d8f9 (5.0): the boost's kswapd wakeup waits for rmqueue to drop zone->lock
  BoostNoDivisionByZero,     // "fix a division by zero error when boosting watermarks" (5.0): no boost for a zone without a high watermark
  AllocNoFragmentRestored,   // "fix never set ALLOC_NOFRAGMENT flag" (5.1): it sets it again
  BoostIgnoredForIsolation,  // "ignore the fragmentation avoidance boost for isolation and compaction" (5.1)
  KswapdKeepsClasszone,      // dffcac2cb88e (5.3): a kswapd that could not sleep keeps the classzone it reclaimed for
  BoostShrinksSlab,          // "do not special-case slab reclaim when watermarks are boosted" (5.3)
  BoostSmallZones,           // 14f69140ff9c (5.7): a zone of fewer than four pageblocks is never boosted
  AtomicIgnoresBoost,        // f80b08fc4453 (5.9): an order-0 GFP_ATOMIC allocation tests the min watermark without the boost
  BoostWakeOnlyIfBoosted,    // 597c892038e0 (5.11): ZONE_BOOSTED_WATERMARK only when boost_watermark() boosted
  RmqueueWakeNeedsKswapd,    // "don't wake kswapd from rmqueue() unless __GFP_KSWAPD_RECLAIM is specified" (6.5)
  FallbackOnlyHigherOrder,   // "only search higher order when fallback" (6.1): ALLOC_NOFRAGMENT's floor is never below the order
  CompactionCapture,         // 5e1f0f098b46 (5.1): a block freed at a direct compactor's order in its zone is captured for it
  CaptureAlwaysUsed,         // "always use a captured page regardless of compaction result" (5.1)
  CaptureSafeWrtInterrupts,  // b9e20f0da1f5 (5.8): the control is hidden before the captured page is read
  CompactAlwaysFinishPageblock,  // efe771c7603b (5.1): every compaction for an order ends the pageblock it is in
  CompactFinishOnContention, // cb2dcaf023c2 (5.1): async compaction takes a contended lock, ends the pageblock, then aborts
  LruIsolateBeforeLock,      // 9df41314390b (5.11): an LRU page is referenced and TestClearPageLRU'd before the LRU lock
  IsolateChecksInline,       // 89f6c88a6ab4 (5.18): one page_mapping() read; PG_unevictable read only when skipped
  LruRefBeforePinnedCheck,   // 829ae0f81ce0 (6.1): the reference comes before the pinned and GFP_NOFS checks
  IsolationStopsWithPagesToMigrate,  // d20bdd571ee5 (5.10): too many isolated + pages in hand: stop
  MigrateFreedPageFirst,     // "handle freed page at the first place" (5.5): no new page for it
  PageWaiters,               // 62906027091f (4.10): unlock_page wakes only if PG_waiters is set
  AtomicPageIsolated,        // 356ea3865687 (5.18): Set/ClearPageIsolated are atomic bit ops
  FreedPageNoLock,           // 160088b3b6d7 (6.0): a page freed under migration is not locked
  MigrateFailedToRetList,    // dd4ae78a21fc (5.11): a page that failed for good waits on the list for the caller's putback
  MigrateBatch,              // 2ef7dbb26990 (6.3): migrate_pages unmaps (locks) a batch, then moves it
  SyncLightNoWaitNotUptodate,  // 4bb6dc79d987 (6.5): SYNC_LIGHT does not sleep on a page that is not uptodate
  CompactionFsThrottle,      // 4fbbb3fde3c6 (6.5): too_many_isolated divides the LRU by 8 for __GFP_FS
  ReclaimThrottleIsolated,   // d818fca1cac3 (5.16): too many isolated: reclaim_throttle (HZ/50), kthreads not at all
  ReclaimThrottleResched,    // b485c6f1f9f5 (5.17): an unthrottled kthread calls cond_resched
  VmOwnsPgIsolated,          // v4 (bda807d44454): the VM sets/clears PG_isolated, not the driver
  MovableMappingBit,         // v4: PG_movable is page->mapping bit 0x2; __ClearPageMovable keeps it
  RaceWithoutPageLock,       // v4 ("race without page_lock"): the put-back paths take lock_page
  // mm/zsmalloc.c
  ZsFreeAtomic,              // v4 08+11/12 (48b4800a1c6a): zs_free never waits for a page lock
  ZsCompactUnderClassLock,   // v4 ("fix swap_info deadlock"): no v3 12/16 freeze compaction
  ZsMovableAfterSetup,       // v4: SetZsPageMovable once the zspage is set up, not in init_zspage
  ZsPinBitSpinLock,          // 1b8320b620d6: the handle pin is a bit_spin_lock (preemption off)
  ZsCompactKeepsPinBit,      // c102f07ca0b0: migrate_zspage records the new obj with the pin bit
  ZsMallocGfp,               // "zsmalloc: require GFP in zs_malloc()" (4.7): the caller's gfp, not pool->flags
  ZsMigrateEmptyZspage,      // 77ff465799c6 (4.14): zs_page_migrate migrates an empty zspage
  ZsPutbackDeferred,         // 1a87aa03597e (5.3): a migration that puts back an empty zspage frees it
  ZsDestroyWaitsIsolated,    // 701d678599d0 (5.3): zs_destroy_pool waits for isolated zspages
  ZsCompactCountsLocally,    // 239592815805 (5.12): pages_compacted is an atomic of local counts
  ZsHugeInZspage,            // a41ec880aa7b (5.17): the huge flag is in struct zspage, not the page
  ZsNoZspageIsolation,       // c4549b871102 (5.17): isolation only counts; zs_free frees isolated zspages
  ZsPoolMigrateLock,         // b475d42d2c43 (5.17): pool->migrate_lock replaces the handle pin
  ZsLockZspageMigrateLock,   // 2505a981114d (5.18): lock_zspage try-locks under migrate_read_lock
  MovableOperations,         // 68f2736a8583 (6.0): movable_operations; no zsmalloc inode
  ZsPoolLock,                // c0547d0b6a4b (6.2): one pool->lock for migrate_lock and class locks
  ZsOneCompaction,           // d2658f2052c7 (6.4): one zs_compact at a time per pool
  ZsIsolationUnderPoolLock,  // 4b5d1e47b694 (6.5): the isolation count under pool->lock
  ZsChainSizeLeastWaste,     // 6260ae358345 (6.3): the zspage chain size that wastes least
  ZsChainSize8,              // b46402fa894f (6.3): zspages of up to 8 pages (CONFIG_ZSMALLOC_CHAIN_SIZE)
  ZsInsertAtHead,            // a40a71e8343e (6.4): insert_zspage adds at the list head
  ZsInuseRatioGroups,        // 4c7ac97285d8 (6.4): fullness groups by in-use ratio, 10% steps
  ZsCompactOneDst,           // 5a845e9f2d66 (6.4): compaction fills one destination from many sources
  ZsCompactResetSrc,         // f7ddb6125683 (6.4): __zs_compact forgets a source once put back
  // mm/balloon_compaction.c
  BalloonDequeueUnderLock,   // the dequeue walk holds pages_lock
  BalloonReleaseUnderLock,   // f68b992bbb47 (4.5): release_pages_balloon under balloon_lock
  BalloonLeakCapsNumPages,   // 37cf99e08c6f (4.8, 4.7.y): leak_balloon releases at most num_pages
  BalloonDeflateViaList,     // 195a8c43e93d (4.13): leak_balloon frees its pages off a page->lru list
  BalloonAllocOutsideLock,   // c7cdff0e8647 (4.15): fill_balloon allocates before balloon_lock
  BalloonListInterfaces,     // 418a3ab1e778 (5.3): enqueue takes pages_lock before the page lock
  BalloonEnqueueNoDoubleDel, // "avoid duplicate page removal" (5.3): no second list_del in enqueue_one
  BalloonShrinker,           // 71994620bb25 (4.19): deflate-on-OOM through a shrinker, no OOM notifier
  BalloonShrinkerScanCount,  // "fix shrinker scan number of pages" (5.4): the scan loop counts what it freed
  BalloonOomNotifier,        // da10329cb057 (5.7): deflate-on-OOM through the OOM notifier again
  // drivers/block/zram/zram_drv.c
  ZramPerCpuStreams,         // da9556a2367c (4.7): per-CPU compression streams, not one stream's mutex
  ZramGfpMovable,            // "zram: use __GFP_MOVABLE for memory allocation" (4.8)
  ZramWriteback,             // db8ffbd4e763 (4.14): incompressible pages go to a backing device
  ZramHugeClassSize,         // "drop max_zpage_size" (4.17): huge is zsmalloc's first huge class
  ZramFreeNotifyTrylock,     // 3c9959e02547 (5.0): slot_free_notify try-locks; the block bitmap is lockless
  ZramIdleFlag,              // e82592c4fd7e (5.0): ZRAM_IDLE; every access clears it under the slot lock
  ZramIdleHugeWriteback,     // a939888ec38b (5.0): writeback_store writes back; zram_bvec_write no longer does
  ZramBdStat,                // 23eddf39b2c2 (5.0): bd_stat's counters (bd_count, bd_reads, bd_writes)
  ZramWritebackThrottle,     // bb416d18b850 (5.0): writeback_limit (an atomic budget; stop_writeback)
  ZramIdleWritebackCleanup,  // 1d69a3f8ae77 (5.0): the idle/huge mode test; the limit under wb_limit_lock
  SwapNoSlotFreeNotify,      // e914d8f00391 (5.18): a swap-in's read no longer frees the zram slot
  // mm/z3fold.c (modelled from 4.14) and what zswap's eviction handler does to it
  Z3foldFirstNumLimit,       // f201ebd87652 (4.11): first_num is 2 bits, the handle's buddy index & 0x3
  Z3foldHeaderSize,          // "fix header size related issues" (4.11): num_free_chunks counts to the page's end
  Z3foldExtendCompaction,    // 1b096e5ae9f7 (4.11): the middle object also moves next to the first or last
  Z3foldPerPageLock,         // "use per-page spinlock" (4.11): zhdr->page_lock; pool->lock for the lists only
  Z3foldKref,                // 5a27aa822029 (4.11): kref; no buddied list and no UNDER_RECLAIM
  Z3foldReclaimUnlock,       // "fix spinlock unlocking in page reclaim" (4.11): reclaim's last put unlocks pool->lock
  Z3foldAllocTrylock,        // "fix page locking in z3fold_alloc()" (4.11): the page lock before pool->lock's release
  Z3foldPerCpuLists,         // d30561c56f41 (4.14): per-CPU unbuddied lists, compaction and release in workqueues
  Z3foldReclaimLockEarly,    // "fix potential race in z3fold_reclaim_page" (4.14): pool->lock before the kref_put
  Z3foldStaleListHandling,   // "fix stale list handling" (4.14): NEEDS_COMPACTING cleared at the release
  Z3foldKrefCompact,         // 5d03a6613957 (4.15): the compaction holds a reference to its page
  Z3foldStaleOnlyIfCanSleep, // "limit use of stale list for allocation" (4.17)
  Z3foldAllowBlocking,       // "Use gfpflags_allow_blocking" (4.17): can_sleep is direct reclaim alone
  Z3foldReclaimLockups,      // "fix reclaim lock-ups" (4.17): UNDER_RECLAIM, one page per retry
  Z3foldReclaimRaces,        // ca0246bb97c2 (4.20): PAGE_CLAIMED; free leaves a headless page reclaim claimed
  Z3foldHelperFunctions,     // "introduce helper functions" (5.2): do_compact_page lists a page with no object
  Z3foldExtendSearch,        // "improve compression by extending search" (5.2): exact fits on other CPUs' lists
  Z3foldBuddySlots,          // 7c2b8baa61fe (5.2): a handle is the address of a slot (struct z3fold_buddy_slots)
  Z3foldMigration,           // 1f862989b04a (5.2): z3fold's pages are movable
  Z3foldLockBeforeSetMovable,  // "lock z3fold page before __SetPageMovable()" (5.3)
  Z3foldAllowHighmem,        // f1549cb5ab2b (5.3): z3fold_alloc takes __GFP_HIGHMEM
  Z3foldMigrateNoTrylock,    // be03074c9af2 (5.3): z3fold_page_migrate no longer try-locks the locked page
  Z3foldPoolInHeader,        // bb9a374dfa3a (5.3): zhdr->pool again, not through the slots
  Z3foldReinitAfterMigration,  // c92d2f38563d (5.3): the new header's work and buddy are initialised
  Z3foldDestroyOrdering,     // 6051d3bd3b91 (5.3): compact_wq is destroyed before release_wq
  Z3foldUnregisterAfterDrain,  // b997052bc3ac (5.3): the pool's inode is put after both workqueues
  Z3foldReclaimRetry,        // "fix retry mechanism in page reclaim" (5.4): each skip unclaims; own slots
  Z3foldHeadlessNoSlots,     // 63398413c00c (5.4): no slots for a headless page
  Z3foldClaimInFree,         // 5b6807de1144 (5.4): z3fold_free claims the page first
  ZswapMapOnce,              // "zswap: do not map same object twice" (5.4): writeback maps the object once
  Z3foldInterPageCompaction, // 4a3ac9311dac (5.5): the slots' rwlock, get_z3fold_header, inter-page compaction
  Z3foldFreeHandleWriteLock, // d8f117abb380 (5.7): free_handle keeps the write lock through the orphaned test
  Z3foldFreeHandleFreesSlots,  // fc5488651c7d (5.11): free_handle is the one place that frees slots
  Z3foldStricterLocking,     // dcf5aedb24f8 (5.11): PAGE_CLAIMED under the page lock, reclaim's own slots
  Z3foldHeadlessReclaimClaim,  // 6d679578fe9c (5.12): reclaim claims a headless page before it takes it
  Z3foldMigratedFlag,        // 943fb61dd66f (5.19): PAGE_MIGRATED keeps get_z3fold_header off a migrated page
  Z3foldClaimedUnderLock,    // 4a1c3839108a (5.19): PAGE_CLAIMED is cleared under the page lock
  Z3foldPutbackUnbuddied,    // 6cf9a34967ed (5.19): a page put back goes on an unbuddied list again
  Z3foldNoStaleReuse,        // df6f0f1d0cf0 (5.19): z3fold_alloc no longer reuses a stale page
  Z3foldReclaimRefUnderLock, // 04094226d6ce (5.19): reclaim takes its page reference under the page lock
  Z3foldNoHighmem,           // f4bad643c1d6 (5.19): z3fold_alloc refuses __GFP_HIGHMEM
  Z3foldFreeNoBuddyDel,      // "remove redundant list_del_init of zhdr->buddy in z3fold_free" (5.19)
  Z3foldNoLru,               // e774a7bc7f0a (6.5): no pool->lru (reclaim moved to zswap)
  Count_
};
inline constexpr size_t kFixCount = size_t(Fix::Count_);

struct FixInfo {
  Fix fix;
  const char* name;    // what users type: "6afcf8ef0ca0", "zs-free-skips-isolated"
  const char* title;   // one line
};
const FixInfo& fix_info(Fix f);
std::optional<Fix> fix_by_name(std::string_view name);

}  // namespace pagesim
