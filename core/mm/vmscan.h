// Reclaim throttling (mm/vmscan.c, d818fca1cac3, 5.16): a task that finds too many pages
// isolated waits on pgdat->reclaim_wait[VMSCAN_THROTTLE_ISOLATED] instead of
// congestion_wait(). The model has no page reclaim: compaction is its only caller.
#pragma once
#include "mm/mm.h"

namespace pagesim::mm {

// reclaim_throttle(pgdat, VMSCAN_THROTTLE_ISOLATED); the caller looks at
// too_many_isolated() again when it returns.
void reclaim_throttle(Mm& mm);

}  // namespace pagesim::mm
