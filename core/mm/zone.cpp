#include "mm/zone.h"

namespace pagesim::mm {

// migratetype_names[] (mm/vmstat.c), as /proc/pagetypeinfo prints them.
const char* migratetype_name(int mt) {
  static const char* const names[MIGRATE_TYPES] = {"Unmovable", "Movable", "Reclaimable",
                                                   "HighAtomic", "CMA",     "Isolate"};
  return mt >= 0 && mt < MIGRATE_TYPES ? names[mt] : "Unknown";
}

}  // namespace pagesim::mm
