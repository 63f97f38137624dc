#include "kernel/preset.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "engine/sim.h"

namespace pagesim::kernel {
namespace {

std::bitset<kFixCount> fixes(std::initializer_list<Fix> l) {
  std::bitset<kFixCount> b;
  for (Fix f : l) b.set(size_t(f));
  return b;
}

// 4.4's mm already had what the v4 series of non-LRU movable page migration reworked
// before it was merged: the reworked parts are no-ops without bda807d44454's non-LRU path,
// and 4.4's zsmalloc and balloon had the rest.
constexpr std::initializer_list<Fix> kV44 = {
    Fix::VmOwnsPgIsolated, Fix::MovableMappingBit,       Fix::RaceWithoutPageLock,
    Fix::ZsFreeAtomic,     Fix::ZsCompactUnderClassLock, Fix::ZsMovableAfterSetup};

// A built-in preset: its predecessor (none for a root) plus the upstream commits of the
// release, one named fix each; `follows` names the kernel tree the model was read against.
struct BuiltIn {
  const char* name;
  const char* base;
  std::initializer_list<Fix> fixes;  // a root's whole set, or what the release added
  const char* title;
  const char* follows;
};
constexpr BuiltIn kBuiltIn[] = {
    {"v4.4", "", kV44,
     "Linux 4.4 (LTS): the balloon's leak frees its pages after dropping balloon_lock and "
     "walks its list unlocked, zsmalloc's compaction drops the handle's pin bit, and there "
     "is no kcompactd",
     "zanpocc/linux-4.4.1 at d4321c96f179 (4.4.1; docs/kernel/history.md, 'v4.4')"},
    {"v4.7", "v4.4",
     {Fix::BalloonDequeueUnderLock, Fix::BalloonReleaseUnderLock, Fix::ZsCompactKeepsPinBit,
      Fix::ZsMallocGfp, Fix::ZramPerCpuStreams, Fix::Kcompactd, Fix::SkipOnFailure,
      Fix::DeferPcpChecks, Fix::AbortFreeScannerOnSplitFail, Fix::BalloonLeakCapsNumPages},
     "before non-LRU movable page migration: compaction treats zsmalloc and driver pages as "
     "unmovable and migrates balloon pages through the balloon's own hooks; a migrated page "
     "is freed off the LRU",
     "calebwilliamsd/linux-4.7.4-casio at 01851de9bbf82552133ba1f39b71a06a1d6b7a23 (4.7.4; "
     "docs/kernel/v4.8.md, 'v4.7')"},
    {"v4.8", "v4.7",
     {Fix::PutPageAfterMigration, Fix::NonLruMigration, Fix::BalloonNonLruMovable,
      Fix::ZsPinBitSpinLock, Fix::ZramGfpMovable},
     "Linux 4.8 as released: non-LRU movable page migration merged",
     "squirrel20/linux-4.8.15 at 4fdc4ec5104cb007aaee57898ccac1f5169a290b"},
    {"v4.9", "v4.8",
     {Fix::CompactionAllocWatermark, Fix::CompactionMinWatermark,
      Fix::NoWatermarkRecheckAfterSuccess, Fix::FragindexCostlyOnly},
     "Linux 4.9: compaction's watermarks and fragmentation index as Vlastimil Babka's "
     "series set them; mm/migrate.c, zsmalloc, the balloon and zram as in 4.8",
     "lxuxx/linux-4.9 at 157606459ea25f1501efafe5e98686fb11c5148c (4.9.0)"},
    {"v4.14", "v4.9",
     {Fix::NrIsolatedLruOnly, Fix::CompactionGfpNofs, Fix::CompactFinishedNoWatermark,
      Fix::FallbackStealThenSmallest, Fix::FallbackCountsMovable, Fix::FallbackSmallestNoSteal,
      Fix::CompactSameMigratetype, Fix::CompactFinishWholePageblock, Fix::KswapdSleepAnyZone,
      Fix::KswapdClasszoneSentinel, Fix::KswapdFailures, Fix::BalloonDeflateViaList,
      Fix::ZsMigrateEmptyZspage, Fix::PageWaiters, Fix::ZramWriteback, Fix::Z3foldFirstNumLimit,
      Fix::Z3foldHeaderSize, Fix::Z3foldExtendCompaction, Fix::Z3foldPerPageLock, Fix::Z3foldKref,
      Fix::Z3foldReclaimUnlock, Fix::Z3foldAllocTrylock, Fix::Z3foldPerCpuLists,
      Fix::Z3foldReclaimLockEarly, Fix::Z3foldStaleListHandling},
     "Linux 4.14 (LTS): NR_ISOLATED counts LRU pages only, GFP_NOFS requests compact, "
     "compaction stops at the first suitable free page, async direct compaction keeps to "
     "the allocation's migratetype and the allocator's fallbacks steal less (4.12's "
     "fragmentation avoidance), kswapd gives up a node it cannot reclaim, z3fold locks and counts each page and has per-CPU lists, "
     "zs_page_migrate migrates an empty zspage, leak_balloon frees off a page list, "
     "unlock_page wakes by PG_waiters, zram can write incompressible pages back",
     "hxxful/linux-4.14.0-friendlyarm at f2f5b66903995212ddda5de1c6b896b0813d9b31 (4.14.0)"},
    {"v4.19", "v4.14",
     {Fix::BalloonAllocOutsideLock, Fix::BalloonShrinker, Fix::ZramHugeClassSize, Fix::ShrinkSlabPriority,
      Fix::ShrinkSlabContended, Fix::KcompactdWhenKswapdCannot, Fix::ShrinkSlabMinDelta,
      Fix::Z3foldKrefCompact, Fix::Z3foldStaleOnlyIfCanSleep, Fix::Z3foldAllowBlocking,
      Fix::Z3foldReclaimLockups},
     "Linux 4.19 (LTS): fill_balloon allocates outside balloon_lock, and the balloon "
     "deflates on OOM through a shrinker; shrinkers are scanned by reclaim priority; zram stores a page uncompressed by zsmalloc's "
     "huge class size; z3fold's compaction holds a page reference, and its reclaim one page",
     "ZDawnG/linux-4.19 at b69769d39abc37abd99bd5af9a3ff3b6ff6a82d4 (4.19.0)"},
    {"v5.4", "v4.19",
     {Fix::ShrinkSlabMinDeltaReverted, Fix::ZsPutbackDeferred, Fix::ZsDestroyWaitsIsolated, Fix::BalloonListInterfaces,
      Fix::BalloonEnqueueNoDoubleDel, Fix::BalloonShrinkerScanCount, Fix::ZramFreeNotifyTrylock,
      Fix::ZramIdleFlag, Fix::ZramIdleHugeWriteback, Fix::ZramBdStat, Fix::ZramWritebackThrottle,
      Fix::ZramIdleWritebackCleanup, Fix::AllocNoFragment, Fix::AllocFlagsKswapd,
      Fix::WatermarkBoost, Fix::BoostWakeOutsideZoneLock, Fix::BoostNoDivisionByZero,
      Fix::AllocNoFragmentRestored, Fix::BoostIgnoredForIsolation, Fix::KswapdKeepsClasszone,
      Fix::BoostShrinksSlab, Fix::CompactionCapture, Fix::CaptureAlwaysUsed,
      Fix::CompactAlwaysFinishPageblock, Fix::CompactFinishOnContention, Fix::Z3foldReclaimRaces,
      Fix::Z3foldHelperFunctions, Fix::Z3foldExtendSearch, Fix::Z3foldBuddySlots, Fix::Z3foldMigration,
      Fix::Z3foldLockBeforeSetMovable, Fix::Z3foldAllowHighmem, Fix::Z3foldMigrateNoTrylock,
      Fix::Z3foldPoolInHeader, Fix::Z3foldReinitAfterMigration, Fix::Z3foldDestroyOrdering,
      Fix::Z3foldUnregisterAfterDrain, Fix::Z3foldReclaimRetry, Fix::Z3foldHeadlessNoSlots,
      Fix::Z3foldClaimInFree, Fix::ZswapMapOnce},
     "Linux 5.4 (LTS): zsmalloc's 5.3 migration fixes, the balloon list interfaces and its "
     "shrinker's count, a Normal-zone allocation avoids mixing pageblocks first, a fallback "
     "boosts the watermarks until kswapd runs, direct "
     "compaction captures a freed block of its order and ends the pageblock it is in (a "
     "contended one too), zram's "
     "slot free safe in softirq and its writeback on request; z3fold's handles in slots, "
     "its pages movable (5.2), and its reclaim and free claiming pages",
     "jashawnyu/linux-5.4 at 37e4e5ffad935bced493cc12e46d3b3e6dfdb332 (5.4.0)"},
    {"v5.10", "v5.4",
     {Fix::MigrateFreedPageFirst, Fix::IsolationStopsWithPagesToMigrate, Fix::BoostSmallZones,
      Fix::AtomicIgnoresBoost,
      Fix::CaptureSafeWrtInterrupts, Fix::Z3foldInterPageCompaction,
      Fix::Z3foldFreeHandleWriteLock, Fix::BalloonOomNotifier},
     "Linux 5.10 (LTS): migration allocates no new page for a page freed under it; a zone "
     "of fewer than four pageblocks is never boosted; "
     "compaction stops isolating when too many pages are isolated and it has pages to "
     "migrate, and hides its capture control before it reads the captured page; z3fold "
     "compacts between pages and locks its slots; the balloon deflates on OOM through the "
     "OOM notifier again",
     "atjhamit/linux-v5.10 at 4ebd69bc9c261f7c5e100ad5feb99f1a8b2054b8 (5.10.0)"},
    {"v5.15", "v5.10",
     {Fix::MigrateFailedToRetList, Fix::LruIsolateBeforeLock, Fix::ZsCompactCountsLocally,
      Fix::BoostWakeOnlyIfBoosted,
      Fix::Z3foldFreeHandleFreesSlots, Fix::Z3foldStricterLocking,
      Fix::Z3foldHeadlessReclaimClaim},
     "Linux 5.15 (LTS): a page that failed migration for good waits for the caller's "
     "putback; compaction isolates an LRU page before it takes the LRU lock; zsmalloc "
     "counts compacted pages in an atomic; z3fold's 5.11 locking and reclaim rework and "
     "its headless reclaim fix",
     "zcjie1/linux-5.15.100 at 52bed7a9a5ad without its stable backports of afe8605ca454, "
     "2505a981114d, e914d8f00391, 89f6c88a6ab4 and 829ae0f81ce0 (5.16, 5.18 and 6.1 "
     "upstream; no 5.15.0 tree is stored)"},
    {"v6.1", "v5.15",
     {Fix::ZsHugeInZspage, Fix::ZsNoZspageIsolation, Fix::ZsPoolMigrateLock,
      Fix::ZsLockZspageMigrateLock, Fix::AtomicPageIsolated, Fix::MovableOperations,
      Fix::FreedPageNoLock, Fix::ReclaimThrottleIsolated, Fix::ReclaimThrottleResched,
      Fix::FallbackOnlyHigherOrder, Fix::IsolateChecksInline, Fix::LruRefBeforePinnedCheck,
      Fix::SwapNoSlotFreeNotify,
      Fix::Z3foldMigratedFlag, Fix::Z3foldClaimedUnderLock, Fix::Z3foldPutbackUnbuddied,
      Fix::Z3foldNoStaleReuse, Fix::Z3foldReclaimRefUnderLock, Fix::Z3foldNoHighmem,
      Fix::Z3foldFreeNoBuddyDel},
     "Linux 6.1 (LTS): zsmalloc's 5.17 locking rework (pool->migrate_lock, no zspage "
     "isolation), an atomic PG_isolated, movable_operations, compaction throttled in "
     "reclaim_throttle and referencing an LRU page before its checks; a swap-in's read no "
     "longer frees its zram slot; Miaohe Lin's z3fold fixes",
     "c1336658570/linux-6.1.20 at fad5889c0b10 (6.1.20; krr-io/linux-6.1.0, 6.1-rc7, has the "
     "same mm/zsmalloc.c and differs in mm/migrate.c only in remove_migration_pte)"},
    {"v6.6", "v6.1",
     {Fix::ZsPoolLock, Fix::ZsOneCompaction, Fix::ZsIsolationUnderPoolLock,
      Fix::ZsChainSizeLeastWaste, Fix::ZsChainSize8, Fix::ZsInsertAtHead,
      Fix::ZsInuseRatioGroups, Fix::ZsCompactOneDst, Fix::ZsCompactResetSrc, Fix::MigrateBatch,
      Fix::SyncLightNoWaitNotUptodate, Fix::CompactionFsThrottle, Fix::Z3foldNoLru,
      Fix::RmqueueWakeNeedsKswapd},
     "Linux 6.6 (LTS): zsmalloc's one pool->lock, zspage chains of up to 8 pages, in-use "
     "ratio fullness groups and one-destination compaction; migrate_pages unmaps and locks "
     "a batch before it moves any; z3fold has no pool->lru",
     "mihaelbh/adding-new-sched-policy-to-linux-6.6.9 at b0e4488ba24c (6.6.9; its mm/ is "
     "6.6.9's)"},
    {"movable-v3", "",
     {Fix::PutPageAfterMigration, Fix::NonLruMigration, Fix::BalloonNonLruMovable,
      Fix::ZsCompactKeepsPinBit, Fix::BalloonDequeueUnderLock, Fix::BalloonReleaseUnderLock,
      Fix::ZsMallocGfp, Fix::ZramPerCpuStreams, Fix::ZramGfpMovable, Fix::Kcompactd},
     "the April 2016 v3 series: PG_movable a real flag, drivers own PG_isolated, zs_free "
     "frees zspages with isolated sub-pages",
     "Minchan Kim's v3 series on 4.6-rc (docs/kernel/movable-v3.md)"},
};

// Fixes that only make sense together (v4 made each pair as one change).
constexpr const char* kOnPerCpuLists = "it changes z3fold as d30561c56f41 (4.14) rewrote it";
struct FixNeeds {
  Fix fix, needs;
  const char* why;
};
constexpr FixNeeds kFixNeeds[] = {
    {Fix::ShrinkSlabMinDelta, Fix::ShrinkSlabPriority,
     "172b06c32b94's minimum is taken with 9092c71bb724's share of the count"},
    {Fix::KswapdClasszoneSentinel, Fix::KswapdSleepAnyZone,
     "e716f2eb24de's pgdat_balanced() is the one-zone check the patch before it in the "
     "series gave prepare_kswapd_sleep"},
    {Fix::NonLruMigration, Fix::PutPageAfterMigration,
     "bda807d44454 frees a migrated non-LRU page with put_page; before c6c919eb90e0 a "
     "migrated page went to putback_lru_page, onto the LRU"},
    {Fix::BalloonNonLruMovable, Fix::NonLruMigration,
     "b1123ea6d3b3 gives the balloon the non-LRU movable page callbacks of bda807d44454"},
    {Fix::NrIsolatedLruOnly, Fix::BalloonNonLruMovable,
     "6afcf8ef0ca0 tells the non-LRU pages it does not count by __PageMovable, which a "
     "balloon page is only since b1123ea6d3b3"},
    {Fix::VmOwnsPgIsolated, Fix::ZsFreeAtomic,
     "v3's zsmalloc reads PG_isolated as its own state, which v4's VM owns"},
    {Fix::ZsFreeAtomic, Fix::ZsCompactUnderClassLock,
     "v4's free_zspage runs under class->lock, which v3's compaction drops before it frees"},
    {Fix::ZsDestroyWaitsIsolated, Fix::ZsFreeAtomic,
     "701d678599d0 counts isolated zspages in v4's zsmalloc (struct zspage's isolation "
     "count), which v3's zspage freeze does not have"},
    {Fix::ZsDestroyWaitsIsolated, Fix::NonLruMigration,
     "701d678599d0 waits for zspages isolated by non-LRU page migration, which came with "
     "bda807d44454"},
    {Fix::ZsMigrateEmptyZspage, Fix::ZsFreeAtomic,
     "77ff465799c6 changes v4's zs_page_migrate, which v3's zspage freeze does not have"},
    {Fix::ZsMigrateEmptyZspage, Fix::NonLruMigration,
     "77ff465799c6 changes zs_page_migrate, a callback of bda807d44454's non-LRU migration"},
    {Fix::ZsPutbackDeferred, Fix::ZsFreeAtomic,
     "1a87aa03597e changes v4's zs_page_migrate, which v3's zspage freeze does not have"},
    {Fix::ZsPutbackDeferred, Fix::NonLruMigration,
     "1a87aa03597e changes zs_page_migrate, a callback of bda807d44454's non-LRU migration"},
    {Fix::BalloonListInterfaces, Fix::BalloonAllocOutsideLock,
     "418a3ab1e778 reworks the balloon_page_enqueue(b, page) of c7cdff0e8647"},
    {Fix::BalloonEnqueueNoDoubleDel, Fix::BalloonListInterfaces,
     "the fix moves a list_del that 418a3ab1e778 put in balloon_page_enqueue_one"},
    {Fix::CompactFinishOnContention, Fix::CompactAlwaysFinishPageblock,
     "cb2dcaf023c2 finishes the pageblock that efe771c7603b's check keeps compaction in"},
    {Fix::AllocFlagsKswapd, Fix::AllocNoFragment,
     "0a79cdad5eb2 reworked the alloc_flags_nofragment that 6bb154504f8b added"},
    {Fix::WatermarkBoost, Fix::AllocFlagsKswapd,
     "1c30844d2dfe wakes kswapd for a stealing caller with 0a79cdad5eb2's ALLOC_KSWAPD"},
    {Fix::WatermarkBoost, Fix::KswapdFailures,
     "1c30844d2dfe's balance_pgdat counts a boosted pass that reclaims nothing in "
     "c73322d098e4's kswapd_failures"},
    {Fix::WatermarkBoost, Fix::KswapdClasszoneSentinel,
     "1c30844d2dfe tests boosts beside e716f2eb24de's pgdat_balanced()"},
    {Fix::BoostWakeOutsideZoneLock, Fix::WatermarkBoost,
     "73444bc4d8f9 moves the kswapd wakeup 1c30844d2dfe put in steal_suitable_fallback"},
    {Fix::BoostNoDivisionByZero, Fix::WatermarkBoost,
     "the fix is in 1c30844d2dfe's boost_watermark"},
    {Fix::BoostIgnoredForIsolation, Fix::WatermarkBoost,
     "the fix leaves out the boost 1c30844d2dfe added to the min watermark"},
    {Fix::KswapdKeepsClasszone, Fix::KswapdClasszoneSentinel,
     "dffcac2cb88e rewrites e716f2eb24de's kswapd_classzone_idx()"},
    {Fix::BoostShrinksSlab, Fix::WatermarkBoost,
     "the fix removes 1c30844d2dfe's sc.may_shrinkslab"},
    {Fix::BoostSmallZones, Fix::WatermarkBoost, "14f69140ff9c limits 1c30844d2dfe's boost_watermark"},
    {Fix::AtomicIgnoresBoost, Fix::WatermarkBoost,
     "f80b08fc4453 leaves out for atomic allocations the boost 1c30844d2dfe added"},
    {Fix::BoostWakeOnlyIfBoosted, Fix::BoostWakeOutsideZoneLock,
     "597c892038e0 sets 73444bc4d8f9's ZONE_BOOSTED_WATERMARK only after a boost"},
    {Fix::RmqueueWakeNeedsKswapd, Fix::BoostWakeOutsideZoneLock,
     "the fix tests ALLOC_KSWAPD before 73444bc4d8f9's wakeup in rmqueue()"},
    {Fix::AllocNoFragmentRestored, Fix::AllocFlagsKswapd,
     "the repair sets ALLOC_NOFRAGMENT again in 0a79cdad5eb2's alloc_flags_nofragment"},
    {Fix::FallbackOnlyHigherOrder, Fix::AllocNoFragment,
     "the fix changes the lowest order that 6bb154504f8b's ALLOC_NOFRAGMENT sets"},
    {Fix::CaptureAlwaysUsed, Fix::CompactionCapture,
     "the fix removes the check that 5e1f0f098b46 added with the capture"},
    {Fix::CaptureSafeWrtInterrupts, Fix::CompactionCapture,
     "b9e20f0da1f5 reorders the capture control handling of 5e1f0f098b46"},
    {Fix::LruIsolateBeforeLock, Fix::CompactFinishOnContention,
     "9df41314390b clears PG_lru before it takes the LRU lock, which cb2dcaf023c2's "
     "compact_lock_irqsave always takes (async compaction no longer backs out of it)"},
    {Fix::IsolateChecksInline, Fix::LruIsolateBeforeLock,
     "89f6c88a6ab4 moves inline the __isolate_lru_page_prepare that 9df41314390b made"},
    {Fix::LruRefBeforePinnedCheck, Fix::IsolateChecksInline,
     "829ae0f81ce0 is written on 89f6c88a6ab4's inline checks (a stable dependency)"},
    {Fix::FallbackSmallestNoSteal, Fix::FallbackStealThenSmallest,
     "7a8f58f39188 changes the __rmqueue_fallback that 3bc48f96cf11 rewrote"},
    {Fix::BalloonShrinkerScanCount, Fix::BalloonShrinker,
     "the fix changes the scan loop of 71994620bb25's shrinker"},
    {Fix::BalloonOomNotifier, Fix::BalloonShrinker,
     "da10329cb057 switches back from 71994620bb25's shrinker to the OOM notifier"},
    {Fix::ZsCompactCountsLocally, Fix::ZsCompactUnderClassLock,
     "239592815805 changes v4's __zs_compact, which v3's freeze compaction does not have"},
    {Fix::MigrateFreedPageFirst, Fix::PutPageAfterMigration,
     "the freed-page branch it moves is the one c6c919eb90e0 wrote"},
    {Fix::ZsNoZspageIsolation, Fix::ZsPoolMigrateLock,
     "c4549b871102 and b475d42d2c43 were merged together in 5.17 (one series); the model "
     "does not build the tree between them"},
    {Fix::ZsPoolMigrateLock, Fix::ZsNoZspageIsolation,
     "c4549b871102 and b475d42d2c43 were merged together in 5.17 (one series); the model "
     "does not build the tree between them"},
    {Fix::ZsHugeInZspage, Fix::ZsFreeAtomic,
     "a41ec880aa7b moves the flag into v4's struct zspage, which v3 does not have"},
    {Fix::ZsNoZspageIsolation, Fix::ZsFreeAtomic,
     "c4549b871102 changes v4's zsmalloc (struct zspage's isolation count), which v3's "
     "zspage freeze does not have"},
    {Fix::ZsNoZspageIsolation, Fix::NonLruMigration,
     "c4549b871102 changes zs_page_isolate, a callback of bda807d44454's non-LRU migration"},
    {Fix::ZsNoZspageIsolation, Fix::VmOwnsPgIsolated,
     "5.17's callbacks leave PG_isolated to the VM, which owns it since v4"},
    {Fix::ZsLockZspageMigrateLock, Fix::ZsNoZspageIsolation,
     "2505a981114d changes the lock_zspage of 5.17's zsmalloc"},
    {Fix::MovableOperations, Fix::ZsPoolMigrateLock,
     "68f2736a8583's zsmalloc callbacks find the pool through the zspage, as 5.17 left "
     "them; before, they found it through the pool inode's mapping"},
    {Fix::ZsPoolLock, Fix::ZsPoolMigrateLock,
     "c0547d0b6a4b merges 5.17's pool->migrate_lock with the class locks"},
    {Fix::ZsOneCompaction, Fix::ZsCompactCountsLocally,
     "d2658f2052c7 changes the zs_compact of 239592815805, which adds up local counts"},
    {Fix::ZsOneCompaction, Fix::ZsPoolLock,
     "d2658f2052c7 keeps compactions from contending on c0547d0b6a4b's pool->lock"},
    {Fix::ZsIsolationUnderPoolLock, Fix::ZsPoolLock,
     "4b5d1e47b694 takes the pool->lock of c0547d0b6a4b"},
    {Fix::ZsChainSize8, Fix::ZsChainSizeLeastWaste,
     "b46402fa894f raises the limit of 6260ae358345's chain size selection"},
    {Fix::ZsInuseRatioGroups, Fix::ZsFreeAtomic,
     "4c7ac97285d8 regroups v4's fullness lists, which v3's zsmalloc keeps two of"},
    {Fix::ZsCompactOneDst, Fix::ZsInuseRatioGroups,
     "5a845e9f2d66 takes sources and destinations from 4c7ac97285d8's ratio groups"},
    {Fix::ZsCompactOneDst, Fix::ZsPoolLock,
     "5a845e9f2d66's __zs_compact holds c0547d0b6a4b's pool->lock"},
    {Fix::ZsCompactResetSrc, Fix::ZsCompactOneDst,
     "f7ddb6125683 fixes 5a845e9f2d66's compaction loop"},
    {Fix::MigrateFailedToRetList, Fix::PutPageAfterMigration,
     "dd4ae78a21fc changes the failure path of c6c919eb90e0's unmap_and_move"},
    {Fix::MigrateFailedToRetList, Fix::VmOwnsPgIsolated,
     "dd4ae78a21fc leaves a failed non-LRU page to putback_movable_pages, which ends v4's "
     "isolation under the page lock"},
    {Fix::MigrateBatch, Fix::MigrateFailedToRetList,
     "2ef7dbb26990's migrate_folio_unmap and _move put failed pages on dd4ae78a21fc's list"},
    {Fix::MigrateBatch, Fix::MigrateFreedPageFirst,
     "2ef7dbb26990's migrate_folio_unmap looks for a freed page before it allocates"},
    {Fix::MigrateBatch, Fix::FreedPageNoLock,
     "2ef7dbb26990's migrate_folio_unmap leaves a freed page unlocked, as since 160088b3b6d7"},
    {Fix::MigrateBatch, Fix::BalloonNonLruMovable,
     "2ef7dbb26990 migrates balloon pages through the movable operations of b1123ea6d3b3"},
    {Fix::MigrateBatch, Fix::NrIsolatedLruOnly,
     "2ef7dbb26990's migrate_folio_done counts LRU pages only, as since 6afcf8ef0ca0"},
    {Fix::SyncLightNoWaitNotUptodate, Fix::MigrateBatch,
     "4bb6dc79d987 changes 2ef7dbb26990's migrate_folio_unmap"},
    {Fix::ReclaimThrottleResched, Fix::ReclaimThrottleIsolated,
     "b485c6f1f9f5 changes the kthread branch of d818fca1cac3's reclaim_throttle"},
    {Fix::CompactionFsThrottle, Fix::CompactionGfpNofs,
     "4fbbb3fde3c6 reads the gfp_mask that 73e64c51afc5 gave every compaction"},
    {Fix::AtomicPageIsolated, Fix::VmOwnsPgIsolated,
     "356ea3865687 changes the VM's PG_isolated updates, which v4's VM owns"},
    {Fix::FreedPageNoLock, Fix::VmOwnsPgIsolated,
     "160088b3b6d7 leaves PG_isolated to free_pages_prepare, which v4's VM owns"},
    {Fix::ZramFreeNotifyTrylock, Fix::ZramWriteback,
     "3c9959e02547 makes lockless the block bitmap of db8ffbd4e763's writeback"},
    {Fix::ZramIdleHugeWriteback, Fix::ZramFreeNotifyTrylock,
     "a939888ec38b's writeback_store takes blocks from the lockless bitmap of 3c9959e02547, "
     "the first patch of its series"},
    {Fix::ZramIdleHugeWriteback, Fix::ZramIdleFlag,
     "a939888ec38b's writeback_store writes idle slots back and rechecks ZRAM_IDLE, the flag "
     "of e82592c4fd7e"},
    {Fix::ZramBdStat, Fix::ZramIdleHugeWriteback, "23eddf39b2c2 counts a939888ec38b's writes back"},
    {Fix::ZramWritebackThrottle, Fix::ZramBdStat, "bb416d18b850 limits what 23eddf39b2c2 counts (and fixes its units)"},
    {Fix::ZramIdleWritebackCleanup, Fix::ZramIdleHugeWriteback, "1d69a3f8ae77 mends a939888ec38b's writeback_store"},
    {Fix::MovableMappingBit, Fix::VmOwnsPgIsolated,
     "__ClearPageMovable keeps the movable bit so that v4's VM, not the driver, ends an "
     "isolation"},
    {Fix::Z3foldKref, Fix::Z3foldPerPageLock,
     "5a27aa822029 counts references to the pages that 'use per-page spinlock' locks"},
    {Fix::Z3foldReclaimUnlock, Fix::Z3foldKref, "it unlocks pool->lock after 5a27aa822029's kref_put"},
    {Fix::Z3foldAllocTrylock, Fix::Z3foldPerPageLock, "it try-locks the page lock of 'use per-page spinlock'"},
    {Fix::Z3foldReclaimLockEarly, Fix::Z3foldPerCpuLists, "it changes d30561c56f41's z3fold_reclaim_page"},
    {Fix::Z3foldStaleListHandling, Fix::Z3foldPerCpuLists, "it changes d30561c56f41's stale list"},
    {Fix::Z3foldKrefCompact, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldStaleOnlyIfCanSleep, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldAllowBlocking, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldReclaimLockups, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldHelperFunctions, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldExtendSearch, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldAllowHighmem, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldDestroyOrdering, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldClaimedUnderLock, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldPutbackUnbuddied, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldNoStaleReuse, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldNoHighmem, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldFreeNoBuddyDel, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldNoLru, Fix::Z3foldPerCpuLists, kOnPerCpuLists},
    {Fix::Z3foldReclaimRaces, Fix::Z3foldReclaimLockups,
     "ca0246bb97c2 turns the UNDER_RECLAIM of the lock-ups fix into PAGE_CLAIMED"},
    {Fix::Z3foldBuddySlots, Fix::Z3foldReclaimRaces,
     "7c2b8baa61fe keeps in the slot the LAST handle's size that ca0246bb97c2 encodes"},
    {Fix::Z3foldMigration, Fix::Z3foldBuddySlots,
     "1f862989b04a's migration rewrites the handles in the slots of 7c2b8baa61fe"},
    {Fix::Z3foldLockBeforeSetMovable, Fix::Z3foldMigration,
     "it locks the page around 1f862989b04a's __SetPageMovable"},
    {Fix::Z3foldMigrateNoTrylock, Fix::Z3foldMigration,
     "be03074c9af2 changes 1f862989b04a's z3fold_page_migrate"},
    {Fix::Z3foldPoolInHeader, Fix::Z3foldBuddySlots,
     "bb9a374dfa3a undoes the pool's lookup through 7c2b8baa61fe's slots"},
    {Fix::Z3foldReinitAfterMigration, Fix::Z3foldMigration,
     "c92d2f38563d changes 1f862989b04a's z3fold_page_migrate"},
    {Fix::Z3foldUnregisterAfterDrain, Fix::Z3foldMigration,
     "b997052bc3ac moves the iput of 1f862989b04a's inode"},
    {Fix::Z3foldReclaimRetry, Fix::Z3foldBuddySlots,
     "it encodes reclaim's handles in slots of 7c2b8baa61fe's kind on reclaim's stack"},
    {Fix::Z3foldHeadlessNoSlots, Fix::Z3foldBuddySlots,
     "63398413c00c stops 7c2b8baa61fe's slot allocation for headless pages"},
    {Fix::Z3foldClaimInFree, Fix::Z3foldReclaimRaces,
     "5b6807de1144 moves z3fold_free's test of ca0246bb97c2's PAGE_CLAIMED"},
    {Fix::Z3foldInterPageCompaction, Fix::Z3foldClaimInFree,
     "4a3ac9311dac leaves the handle of a page claimed by another to 5b6807de1144's claim"},
    {Fix::Z3foldInterPageCompaction, Fix::Z3foldReclaimRetry,
     "4a3ac9311dac's reclaim encodes into the page's slots instead of the stack's"},
    {Fix::Z3foldInterPageCompaction, Fix::Z3foldMigration,
     "4a3ac9311dac's foreign handles keep a page from 1f862989b04a's migration"},
    {Fix::Z3foldFreeHandleWriteLock, Fix::Z3foldInterPageCompaction,
     "d8f117abb380 changes the free_handle of 4a3ac9311dac, which locks the slots"},
    {Fix::Z3foldFreeHandleFreesSlots, Fix::Z3foldInterPageCompaction,
     "fc5488651c7d rewrites the slot freeing of 4a3ac9311dac (HANDLES_ORPHANED, the rwlock)"},
    {Fix::Z3foldMigratedFlag, Fix::Z3foldInterPageCompaction,
     "943fb61dd66f changes get_z3fold_header's retry loop, which 4a3ac9311dac added"},
    {Fix::Z3foldStricterLocking, Fix::Z3foldFreeHandleFreesSlots,
     "dcf5aedb24f8's reclaim frees its own slots after the page's release, which since "
     "fc5488651c7d leaves them alone"},
    {Fix::Z3foldHeadlessReclaimClaim, Fix::Z3foldStricterLocking,
     "6d679578fe9c restores for headless pages the claim dcf5aedb24f8's reclaim loop dropped"},
    {Fix::Z3foldReclaimRefUnderLock, Fix::Z3foldStricterLocking,
     "04094226d6ce moves dcf5aedb24f8's kref_get_unless_zero under the page lock"},
};

// Fixes whose code a later fix removed: with `later` on, flipping `fix` changes nothing.
struct FixRemoved {
  Fix fix, later;
};
constexpr FixRemoved kFixRemoved[] = {
    {Fix::ShrinkSlabMinDelta, Fix::ShrinkSlabMinDeltaReverted},
    {Fix::ZsMigrateEmptyZspage, Fix::ZsNoZspageIsolation},
    {Fix::ZsPutbackDeferred, Fix::ZsNoZspageIsolation},
    {Fix::ZsDestroyWaitsIsolated, Fix::ZsNoZspageIsolation},
    {Fix::ZsPinBitSpinLock, Fix::ZsPoolMigrateLock},
    {Fix::ZsCompactKeepsPinBit, Fix::ZsPoolMigrateLock},
    // d30561c56f41 rewrote what these changed in 4.8's z3fold (core/drivers/z3fold_4_8.cpp).
    {Fix::Z3foldFirstNumLimit, Fix::Z3foldPerCpuLists},
    {Fix::Z3foldHeaderSize, Fix::Z3foldPerCpuLists},
    {Fix::Z3foldExtendCompaction, Fix::Z3foldPerCpuLists},
    {Fix::Z3foldPerPageLock, Fix::Z3foldPerCpuLists},
    {Fix::Z3foldKref, Fix::Z3foldPerCpuLists},
    {Fix::Z3foldReclaimUnlock, Fix::Z3foldPerCpuLists},
    {Fix::Z3foldAllocTrylock, Fix::Z3foldPerCpuLists},
    {Fix::Z3foldReclaimLockEarly, Fix::Z3foldReclaimLockups},  // reclaim's last put no longer under pool->lock
    {Fix::Z3foldAllowHighmem, Fix::Z3foldNoHighmem},  // f4bad643c1d6 reverts it
    {Fix::ZramWritebackThrottle, Fix::ZramIdleWritebackCleanup},  // the limit rewritten
    {Fix::Z3foldStaleOnlyIfCanSleep, Fix::Z3foldNoStaleReuse},  // no stale page is reused
    {Fix::Z3foldReclaimLockups, Fix::Z3foldNoLru},  // no z3fold_reclaim_page
    // The test "introduce helper functions" dropped matters for a page emptied while
    // reclaim holds it, which do_compact_page leaves alone since the retry fix.
    {Fix::Z3foldHelperFunctions, Fix::Z3foldReclaimRetry},
    {Fix::Z3foldReclaimRetry, Fix::Z3foldStricterLocking},  // the claims rewritten under the lock
    {Fix::Z3foldUnregisterAfterDrain, Fix::MovableOperations},  // no inode (z3fold_mops)
    {Fix::ZswapMapOnce, Fix::Z3foldNoLru},  // no z3fold_reclaim_page, no eviction handler
    {Fix::Z3foldReclaimRefUnderLock, Fix::Z3foldNoLru},  // e774a7bc7f0a removed z3fold_reclaim_page
    {Fix::Z3foldHeadlessReclaimClaim, Fix::Z3foldNoLru},
    {Fix::Z3foldFreeHandleWriteLock, Fix::Z3foldFreeHandleFreesSlots},  // one write-locked section
    {Fix::CompactFinishWholePageblock, Fix::CompactAlwaysFinishPageblock},  // no finishing_block
    {Fix::AllocFlagsKswapd, Fix::AllocNoFragmentRestored},  // the flag is set again
    {Fix::BalloonShrinker, Fix::BalloonOomNotifier},  // the shrinker deflates no more
    {Fix::BalloonShrinkerScanCount, Fix::BalloonOomNotifier},
};

std::deque<Preset>& registry() {
  static std::deque<Preset> p = [] {
    std::deque<Preset> v;
    for (const BuiltIn& b : kBuiltIn) {
      std::bitset<kFixCount> f = fixes(b.fixes);
      if (*b.base) {
        auto from = std::find_if(v.begin(), v.end(), [&](const Preset& q) { return q.name == b.base; });
        f |= from->fixes;
      }
      v.push_back({b.name, b.title, f, true, b.base, b.follows, false});
    }
    return v;
  }();
  return p;
}

}  // namespace

const std::deque<Preset>& presets() { return registry(); }

const Preset& find_preset(std::string_view name) {
  std::vector<std::string> names;
  for (const auto& p : presets()) {
    if (name == p.name) return p;
    names.push_back(p.name);
  }
  throw UsageError("unknown kernel preset '" + std::string(name) + "'" + did_you_mean(name, names) +
                   " (known: " + join_names(names) + ")");
}

bool descends_from(std::string_view preset, std::string_view root) {
  for (const Preset* p = &find_preset(preset);; p = &find_preset(p->base)) {
    if (p->name == root) return true;
    if (p->base.empty()) return false;
  }
}

const Preset& define_preset(const std::string& name, std::string_view base,
                            const std::map<std::string, bool>& flips) {
  if (name.empty() || std::any_of(name.begin(), name.end(),
                                  [](unsigned char c) { return std::isspace(c) || !std::isprint(c); }))
    throw UsageError("a preset name must be a non-empty word, not '" + name + "'");
  const Preset& from = find_preset(base);
  const std::bitset<kFixCount> fixes = resolve_fixes(from, flips);
  for (const Preset& p : registry()) {
    if (p.name != name) continue;
    if (!p.user) throw UsageError("'" + name + "' is a built-in preset; choose another name");
    if (p.base == from.name && p.fixes == fixes) return p;
    throw UsageError("preset '" + name + "' is already defined: " + p.title);
  }
  std::string title = from.name;
  for (size_t i = 0; i < kFixCount; ++i)
    if (fixes.test(i) != from.fixes.test(i))
      title += std::string(fixes.test(i) ? " +" : " -") + fix_info(Fix(i)).name;
  if (title == from.name) title += " (no fix flipped)";
  registry().push_back({name, std::move(title), fixes, from.debug_vm, from.name, from.follows, true});
  return registry().back();
}

std::vector<Fix> fix_needs(Fix fix) {
  std::vector<Fix> out;
  for (const auto& n : kFixNeeds)
    if (n.fix == fix) out.push_back(n.needs);
  return out;
}

std::optional<Fix> fix_removed_by(Fix fix) {
  for (const auto& r : kFixRemoved)
    if (r.fix == fix) return r.later;
  return std::nullopt;
}

std::bitset<kFixCount> resolve_fixes(const Preset& p, const std::map<std::string, bool>& flips) {
  std::bitset<kFixCount> out = p.fixes;
  for (const auto& [name, on] : flips) {
    auto f = fix_by_name(name);
    if (!f) {
      std::vector<std::string> names;
      for (size_t i = 0; i < kFixCount; ++i) names.push_back(fix_info(Fix(i)).name);
      throw UsageError("unknown fix '" + name + "'" + did_you_mean(name, names) + " (known: " +
                       join_names(names) + ")");
    }
    out.set(size_t(*f), on);
  }
  // A flip that cannot change anything would let a scenario pass without testing it.
  for (const auto& [name, on] : flips) {
    const Fix f = *fix_by_name(name);
    if (auto later = fix_removed_by(f); later && out.test(size_t(*later)))
      throw UsageError(std::string("fix '") + name + "' has no effect with fix '" +
                       fix_info(*later).name + "', which removed its code; flip '" +
                       fix_info(*later).name + "' off too");
  }
  for (const auto& [fix, needs, why] : kFixNeeds) {
    if (!out.test(size_t(fix)) || out.test(size_t(needs))) continue;
    if (auto later = fix_removed_by(fix); later && out.test(size_t(*later))) continue;  // code gone
    throw UsageError(std::string("fix '") + fix_info(fix).name + "' needs fix '" +
                     fix_info(needs).name + "' (" + why + ")");
  }
  return out;
}

namespace {
// Model functions that exist only with a fix: 4.7 had no isolate_movable_page, no
// putback_movable_page and no zsmalloc or driver migration callbacks. (4.7's balloon had
// balloon_page_isolate/migrate/putback and virtballoon_migratepage already, called by name.)
struct FunctionNeeds {
  const char* function;
  Fix fix;
};
constexpr FunctionNeeds kFunctionNeeds[] = {
    {"isolate_movable_page", Fix::NonLruMigration},
    {"putback_movable_page", Fix::NonLruMigration},
    {"zs_page_isolate", Fix::NonLruMigration},
    {"zs_page_migrate", Fix::NonLruMigration},
    {"zs_page_putback", Fix::NonLruMigration},
    {"test_driver_isolate_page", Fix::NonLruMigration},
    {"test_driver_migratepage", Fix::NonLruMigration},
    {"test_driver_putback_page", Fix::NonLruMigration},
    {"migrate_pages_batch", Fix::MigrateBatch},
    {"migrate_pages_sync", Fix::MigrateBatch},
    {"migrate_folio_unmap", Fix::MigrateBatch},
    {"migrate_folio_move", Fix::MigrateBatch},
    {"reclaim_throttle", Fix::ReclaimThrottleIsolated},
    {"virtio_balloon_shrinker_count", Fix::BalloonShrinker},
    {"virtio_balloon_shrinker_scan", Fix::BalloonShrinker},
    {"backing_dev_store", Fix::ZramWriteback},
    {"get_entry_bdev", Fix::ZramWriteback},
    {"put_entry_bdev", Fix::ZramWriteback},
    {"write_to_bdev", Fix::ZramWriteback},
    {"read_from_bdev", Fix::ZramWriteback},
    {"zram_wb_clear", Fix::ZramWriteback},
    {"alloc_block_bdev", Fix::ZramIdleHugeWriteback},
    {"free_block_bdev", Fix::ZramIdleHugeWriteback},
    {"writeback_store", Fix::ZramIdleHugeWriteback},
    {"writeback_limit_store", Fix::ZramWritebackThrottle},
    {"writeback_limit_enable_store", Fix::ZramIdleWritebackCleanup},
    {"idle_store", Fix::ZramIdleFlag},
    {"zram_accessed", Fix::ZramIdleFlag},
};
}  // namespace

std::optional<Fix> missing_fix_for(const std::bitset<kFixCount>& fixes, std::string_view function) {
  for (const auto& n : kFunctionNeeds)
    if (function == n.function && !fixes.test(size_t(n.fix))) return n.fix;
  return std::nullopt;
}

std::vector<std::string> model_function_names(const std::bitset<kFixCount>& fixes) {
  std::vector<std::string> out;
  for (const auto& f : model_functions())
    if (!missing_fix_for(fixes, f.name)) out.push_back(f.name);
  return out;
}

}  // namespace pagesim::kernel
