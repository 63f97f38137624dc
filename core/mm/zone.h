// struct zone: the buddy allocator's free areas per order and migratetype, pageblock
// migratetypes, watermarks and the compaction scanners' cached positions.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/sync.h"
#include "mm/page.h"

namespace pagesim::mm {

inline constexpr int MAX_ORDER = 11;       // orders 0..10
inline constexpr int pageblock_order = 9;  // 2 MiB pageblocks with 4 KiB pages
inline constexpr uint32_t pageblock_nr_pages = 1u << pageblock_order;

enum MigrateType : uint8_t {
  MIGRATE_UNMOVABLE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_HIGHATOMIC,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_TYPES
};
const char* migratetype_name(int mt);

struct FreeArea {
  std::array<uint32_t, MIGRATE_TYPES> free_list{};  // PageList ids
  uint64_t nr_free = 0;                             // blocks of this order, all types
};

enum class Watermark : uint8_t { Min, Low, High };

struct Zone {
  std::string name;              // "DMA32", "Normal", "Movable"
  uint32_t id = 0;               // index in Mm::zones
  Pfn zone_start_pfn = 0;
  uint32_t spanned_pages = 0;
  uint64_t managed_pages = 0;
  uint64_t free_pages = 0;       // NR_FREE_PAGES of this zone
  std::array<uint64_t, 3> watermark{};  // _watermark[]: WMARK_MIN, WMARK_LOW, WMARK_HIGH
  // 1c30844d2dfe (5.0): what a fallback steal added to every watermark (written under
  // zone->lock), and ZONE_BOOSTED_WATERMARK, a kswapd wakeup rmqueue() owes (73444bc4d8f9).
  uint64_t watermark_boost = 0;
  bool boosted_watermark_flag = false;
  std::array<FreeArea, MAX_ORDER> free_area{};
  std::vector<uint8_t> pageblock_mt;  // migratetype per pageblock
  SpinLock lock;                      // zone->lock: free areas
  SpinLock lru_lock;                  // zone_lru_lock (pgdat->lru_lock in 4.8)
  std::array<uint32_t, 4> lru{};      // LRU lists: inactive/active anon, inactive/active file
  // Compaction scanners' cached positions (reset_cached_positions).
  Pfn compact_cached_migrate_pfn = 0;
  Pfn compact_cached_free_pfn = 0;
  // Deferred compaction (defer_compaction): plain fields that CPUs read and write racily
  // in the kernel too; not scheduling points.
  uint32_t compact_considered = 0;
  uint32_t compact_defer_shift = 0;
  int compact_order_failed = 0;

  // wmark_pages(z, i) and min/low/high_wmark_pages(z): the watermark with the boost.
  uint64_t wmark_pages(Watermark i) const { return watermark[size_t(i)] + watermark_boost; }
  Pfn end_pfn() const { return zone_start_pfn + spanned_pages; }
  bool contains(Pfn pfn) const { return pfn >= zone_start_pfn && pfn < end_pfn(); }
};

// managed_zone(): the zone has pages the buddy allocator manages. The model reserves none
// of a zone's pages, so it is also populated_zone().
inline bool managed_zone(const Zone& z) { return z.managed_pages > 0; }

enum LruList : uint8_t { LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE };

}  // namespace pagesim::mm
