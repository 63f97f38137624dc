// The memory-management part of the world: struct pages, zones, page lists, address
// spaces, vmstat counters and the kernel configuration that mm code reads. Drivers and
// the Kernel derive from it (layers depend downwards: kernel -> drivers -> mm -> engine).
#pragma once
#include <array>
#include <bitset>
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/kasan.h"
#include "engine/world.h"
#include "mm/fixes.h"
#include "mm/list.h"
#include "mm/mem_map.h"
#include "mm/page.h"
#include "mm/zone.h"

namespace pagesim::mm {

// The configuration mm code reads: CONFIG_DEBUG_VM and the named fixes of the preset.
struct MmConfig {
  bool debug_vm = true;             // VM_BUG_ON* fire (CONFIG_DEBUG_VM)
  std::bitset<kFixCount> fixes;     // which named fixes are applied
  bool has(Fix f) const { return fixes.test(size_t(f)); }
};

// isolate_mode_t bits.
using isolate_mode_t = uint32_t;
inline constexpr isolate_mode_t ISOLATE_ASYNC_MIGRATE = 0x4;
inline constexpr isolate_mode_t ISOLATE_UNEVICTABLE = 0x8;

enum class MigrateMode : uint8_t { Async, SyncLight, Sync };

// The driver interface of non-LRU movable pages: address_space_operations members.
// Function pointers into static tables keep the world copyable.
struct AddressSpaceOps {
  const char* name;
  bool (*isolate_page)(Mm&, Pfn page, isolate_mode_t mode) = nullptr;
  int (*migratepage)(Mm&, uint32_t mapping, Pfn newpage, Pfn page, MigrateMode mode) = nullptr;
  void (*putback_page)(Mm&, Pfn page) = nullptr;
};

// 4.7's balloon hooks: before b1123ea6d3b3, compaction.c and migrate.c called the
// balloon's functions in mm/balloon_compaction.c by name. The drivers layer fills the table.
struct BalloonHooks {
  bool (*isolate)(Mm&, Pfn page);                                  // balloon_page_isolate
  void (*putback)(Mm&, Pfn page);                                  // balloon_page_putback
  int (*migrate)(Mm&, Pfn newpage, Pfn page, MigrateMode mode);    // balloon_page_migrate
};

// struct address_space: an owner's mapping (a driver's anon inode, a process's anon_vma).
struct AddressSpace {
  std::string name;
  const AddressSpaceOps* a_ops = nullptr;
  uint64_t private_data = 0;  // e.g. the zsmalloc pool id
  KasanObject life;           // the inode it belongs to (iput frees a driver's anon inode)
};

// Node/zone counters (enum node_stat_item / zone_stat_item subset) and VM events.
enum class Stat : uint8_t {
  NR_FREE_PAGES,
  NR_INACTIVE_ANON,  // NR_LRU_BASE + lru: the LRU sizes, in enum LruList's order
  NR_ACTIVE_ANON,
  NR_INACTIVE_FILE,
  NR_ACTIVE_FILE,
  NR_ISOLATED_ANON,
  NR_ISOLATED_FILE,
  NR_ZSPAGES,
  NR_BALLOON_PAGES,
  PGMIGRATE_SUCCESS,
  PGMIGRATE_FAIL,
  COMPACTMIGRATE_SCANNED,
  COMPACTFREE_SCANNED,
  COMPACTISOLATED,
  COMPACTSTALL,
  COMPACTFAIL,
  COMPACTSUCCESS,
  KCOMPACTD_WAKE,
  PAGEOUTRUN,                     // balance_pgdat runs
  KSWAPD_LOW_WMARK_HIT_QUICKLY,   // woken during its short sleep
  KSWAPD_HIGH_WMARK_HIT_QUICKLY,  // could not sleep: the node was not balanced
  SLABS_SCANNED,                  // objects shrinkers were asked to scan
  Count_
};
const char* stat_name(Stat s);

// Error numbers: the model returns -EAGAIN, -ENOMEM, -EBUSY ... like the kernel (the
// values are Linux's, from <cerrno>).
inline constexpr int MIGRATEPAGE_SUCCESS = 0;

// A process owning anonymous LRU pages (the model of lru.h).
struct Process {
  std::string name;
  uint32_t anon_vma = 0;           // its anon mapping id (page->mapping | PAGE_MAPPING_ANON)
  std::vector<Pfn> pte;            // page table: virtual page -> pfn (kNoPfn: not present)
  SpinLock ptl;                    // the page table lock: the ptes and the rmap changes of them
  std::vector<uint32_t> content;   // what each virtual page should contain
  bool exited = false;
};

// A registered struct shrinker (mm/shrinker.h): its callbacks and owner; `listed` while on
// shrinker_list (unregister_shrinker takes it off).
struct ShrinkerOps;
struct Shrinker {
  const ShrinkerOps* ops = nullptr;
  uint64_t private_ = 0;
  bool listed = false;
  uint64_t nr_deferred = 0;  // objects to scan left from earlier calls (9092c71bb724 on)
};

// pgdat's kswapd fields (mm/kswapd.h). kswapd runs only when a scenario starts it.
struct KswapdState {
  bool running = false;    // the run has a kswapd0 task
  int order = 0;           // pgdat->kswapd_order
  int classzone_idx = 0;   // pgdat->kswapd_classzone_idx (nr_zones: not woken, e716f2eb24de)
  int failures = 0;        // pgdat->kswapd_failures (c73322d098e4)
  bool waiting = false;    // waitqueue_active(&pgdat->kswapd_wait)
  bool woken = false;      // a wake_up_interruptible since kswapd's prepare_to_wait
  bool changed = false;    // the node changed since kswapd's last pass (kswapd_node_changed)
};

class Mm : public World {
 public:
  Mm() = default;

  MmConfig cfg;
  MemMap pages;                        // mem_map, by pfn (writes through page())
  std::vector<Zone> zones;
  std::vector<PageList> lists;
  std::vector<AddressSpace> mappings;  // mappings[0] is unused (NULL)
  std::array<int64_t, size_t(Stat::Count_)> stats{};
  std::vector<Process> processes;  // the LRU page owners (lru.h)
  uint32_t next_content = 1;              // content tokens handed to new data
  std::vector<uint32_t> spare_lists;      // pool for get_private_list
  int kcompactd_max_order = 0;            // pgdat->kcompactd_max_order
  int kcompactd_classzone_idx = 0;        // pgdat->kcompactd_classzone_idx
  bool kcompactd_waiting = false;         // waitqueue_active(&pgdat->kcompactd_wait)
  KswapdState kswapd;
  std::vector<Shrinker> shrinkers;        // shrinker_list, in registration order
  RwSem shrinker_rwsem{make_obj(objclass::kShrinkerRwsem, 0)};
  const BalloonHooks* balloon_hooks = nullptr;  // set by drivers::Drivers
  // kasan_free_pages: a driver that keeps its objects in the page itself (z3fold) learns
  // that the page went back to the allocator, so that KASAN reports a later access.
  void (*kasan_free_pages)(Mm&, Pfn) = nullptr;  // set by drivers::Drivers
  uint32_t nr_cpu_ids = 1;  // the machine's CPUs (for_each_possible_cpu), set by the machine

  bool valid_pfn(Pfn pfn) const { return pfn < pages.size(); }
  Page& page(Pfn pfn) { return pages.write(pfn); }
  const Page& page(Pfn pfn) const { return pages[pfn]; }
  // The zone holding pfn (zones are contiguous and sorted by start pfn).
  Zone& zone_of(Pfn pfn);
  const Zone& zone_of_const(Pfn pfn) const { return const_cast<Mm*>(this)->zone_of(pfn); }
  uint32_t new_mapping(std::string name, const AddressSpaceOps* a_ops, uint64_t private_data);
  // page->mapping dereferenced (a_ops, private_data): KASAN checks its inode is live.
  const AddressSpace& deref_mapping(uint32_t id) const {
    const AddressSpace& a = mappings[id];
    kasan_check(a.life, "struct address_space", a.name);
    return a;
  }
  // Private page lists (cc->migratepages, cc->freepages) are taken from and returned to
  // a pool, so that repeated compactions do not grow the world.
  uint32_t get_private_list(const char* name);
  void put_private_list(uint32_t list);
  int64_t& stat(Stat s) { return stats[size_t(s)]; }
};

inline bool list_empty(const Mm& mm, uint32_t list) { return mm.lists[list].count == 0; }

}  // namespace pagesim::mm
