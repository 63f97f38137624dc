// Memory compaction (mm/compaction.c, Linux 4.8): the migrate scanner walks a zone from
// its start isolating movable pages (LRU and non-LRU), the free scanner walks from its
// end isolating free pages as targets, and migrate_pages moves one onto the other.
#pragma once
#include <cstdint>

#include "mm/migrate.h"
#include "mm/page_alloc.h"

namespace pagesim::mm {

inline constexpr uint32_t COMPACT_CLUSTER_MAX = 32;  // SWAP_CLUSTER_MAX

enum class CompactResult : uint8_t {
  NotSuitableZone,
  Skipped,
  Deferred,
  NoSuitablePage,
  Continue,
  Complete,
  PartialSkipped,
  Contended,
  Success,
};
const char* compact_result_name(CompactResult r);

enum class IsolateResult : uint8_t { Abort, None, Success };

// struct compact_control: one compaction context (lives on its task's stack).
struct compact_control {
  uint32_t freepages = kNoList;     // isolated free pages (targets)
  uint32_t migratepages = kNoList;  // isolated pages to migrate
  uint32_t nr_freepages = 0;
  uint32_t nr_migratepages = 0;
  Pfn free_pfn = 0;                 // the free scanner's position
  Pfn migrate_pfn = 0;              // the migrate scanner's position
  uint32_t zone = 0;
  int order = -1;                   // -1: compact the whole zone (compact_memory)
  gfp_t gfp_mask = 0;
  int migratetype = 0;              // of direct compactor: gfpflags_to_migratetype(gfp_mask)
  unsigned alloc_flags = 0;         // the allocation's (direct compaction), else 0: WMARK_MIN
  MigrateMode mode = MigrateMode::Async;
  bool whole_zone = false;
  bool direct_compaction = false;
  bool contended = false;
  bool finishing_block = false;     // finishing the current pageblock (baf6a9a1db5a)
  uint64_t total_migrate_scanned = 0;
  uint64_t total_free_scanned = 0;
  Pfn range_end = kNoPfn;           // a targeted compaction stops its migrate scanner here
};

// struct capture_control (5e1f0f098b46): while a task compacts directly,
// current->capture_control points at it, and __free_one_page hands a block of cc->order
// freed in that zone to it instead of the free lists (compaction_capture).
struct capture_control {
  const compact_control* cc = nullptr;
  Pfn page = kNoPfn;
};
// task_capc: the capture control of `current` (in a softirq, of the task it interrupted)
// for a block freed in `zone`, or nullptr. compaction_capture: whether __free_one_page
// hands it the block of `order` at `page` (of pageblock migratetype `migratetype`).
capture_control* task_capc(Mm& mm, uint32_t zone);
bool compaction_capture(capture_control* capc, Pfn page, unsigned order, int migratetype);

// isolate_migratepages_block: scans [low_pfn, end_pfn) and isolates pages onto
// cc->migratepages. Returns the pfn where it stopped, or 0 if it aborted.
Pfn isolate_migratepages_block(Mm& mm, compact_control& cc, Pfn low_pfn, Pfn end_pfn,
                               isolate_mode_t mode);
IsolateResult isolate_migratepages(Mm& mm, compact_control& cc);
void isolate_freepages(Mm& mm, compact_control& cc);
// compaction_alloc / compaction_free: the new_page_t / free_page_t of compaction.
Pfn compaction_alloc(Mm& mm, Pfn migratepage, uint64_t cc);
void compaction_free(Mm& mm, Pfn page, uint64_t cc);

CompactResult compaction_suitable(Mm& mm, Zone& zone, int order, unsigned alloc_flags);
CompactResult compact_finished(Mm& mm, compact_control& cc);
CompactResult compact_zone(Mm& mm, compact_control& cc, capture_control* capc = nullptr);

// compact_node-like: compact every zone fully (echo 1 > /proc/sys/vm/compact_memory).
void compact_memory(Mm& mm, MigrateMode mode = MigrateMode::Sync);
// enum compact_priority (4.8): how hard direct compaction tries, lower is harder. Async
// migrates with MIGRATE_ASYNC, SyncLight with MIGRATE_SYNC_LIGHT.
enum class CompactPriority : uint8_t { SyncLight, Async };
inline constexpr CompactPriority MIN_COMPACT_PRIORITY = CompactPriority::SyncLight;
inline constexpr CompactPriority DEF_COMPACT_PRIORITY = CompactPriority::SyncLight;
inline constexpr CompactPriority INIT_COMPACT_PRIORITY = CompactPriority::Async;

// Deferred compaction: after a failed sync compaction of a zone at some order, the next
// 1 << compact_defer_shift attempts at that order or above skip it (at most 64).
inline constexpr uint32_t COMPACT_MAX_DEFER_SHIFT = 6;
void defer_compaction(Zone& zone, int order);
bool compaction_deferred(Zone& zone, int order);
void compaction_defer_reset(Zone& zone, int order, bool alloc_success);

// try_to_compact_pages: direct compaction for an allocation of `order` that failed. With
// `capture` (since 5e1f0f098b46), a block freed at that order in the zone being compacted
// is taken for the caller: *capture is its pfn (kNoPfn if none).
CompactResult try_to_compact_pages(Mm& mm, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                   CompactPriority prio, Pfn* capture = nullptr);
// A migrate context aimed at [start, end), as alloc_contig_range runs one: the migrate
// scanner isolates what it can there (isolate_migratepages_range) and migrate_pages moves
// each page to a new page from the allocator (alloc_migrate_target). Returns the number
// of pages that were not migrated.
int compact_range(Mm& mm, Pfn start, Pfn end, MigrateMode mode);
// alloc_contig_range's migration step, as the kernel runs it (__alloc_contig_migrate_range
// over isolate_migratepages_range): synchronous, the range block by block, at most 32
// pages at a time, up to 5 tries of a batch. Returns 0, -EINTR (isolation gave up),
// -EBUSY or -ENOMEM; what is still isolated then is put back.
int alloc_contig_migrate_range(Mm& mm, Pfn start, Pfn end);
Pfn isolate_migratepages_range(Mm& mm, compact_control& cc, Pfn start_pfn, Pfn end_pfn);

// kcompactd: a daemon that sleeps until wakeup_kcompactd and then compacts the zones up
// to the requested classzone for the requested order (kcompactd_do_work). kswapd wakes it
// before it sleeps (mm/kswapd.h); an order-0 wakeup does nothing.
void kcompactd(Mm& mm);
void wakeup_kcompactd(Mm& mm, int order, int classzone_idx);

}  // namespace pagesim::mm
