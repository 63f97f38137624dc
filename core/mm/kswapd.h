// kswapd (mm/vmscan.c): the node's reclaim daemon, which the allocator's slow path wakes
// and which wakes kcompactd before it goes to sleep. It runs only when a scenario asks for
// it (Kernel(kswapd=True)); without it wakeup_kswapd() does nothing.
//
// The model reclaims no LRU page: shrink_node() finds none to scan (anonymous pages with no
// swap, no file pages). It calls the shrinkers (zsmalloc's compacts its pool), whose
// freed pages count as no progress. What kswapd does then is what it does on a node whose
// memory is all unreclaimable: balance_pgdat() runs its priorities without progress, and
// whether kswapd sleeps, loops, or gives up depends on the release.
#pragma once
#include <cstdint>

#include "mm/mm.h"
#include "mm/page_alloc.h"

namespace pagesim::mm {

inline constexpr int DEF_PRIORITY = 12;
inline constexpr int MAX_RECLAIM_RETRIES = 16;  // kswapd_failures for a hopeless node

// pgdat->kswapd_wait: where kswapd sleeps; index 1 is the node state it loops on (below).
ObjId kswapd_wait_obj();

// Whether kswapd may sleep: the zones up to classzone_idx are balanced at this order (every
// one of them in 4.8, one since 4.12), or the node is hopeless (c73322d098e4).
bool prepare_kswapd_sleep(const Mm& mm, int order, int classzone_idx);

// A zone is low on free memory, so wake its kswapd task to service it. `gfp_flags`: the
// caller's (4.17 on: one that cannot reclaim directly wakes kcompactd when kswapd cannot
// help).
void wakeup_kswapd(Mm& mm, uint32_t zone, gfp_t gfp_flags, int order, int classzone_idx);

// The daemon: sleeps until woken, then balances the node at the order it was woken for.
void kswapd(Mm& mm);

// The node state kswapd looks at changed: a zone's free pages (__mod_zone_freepage_state),
// what a shrinker would count (zsmalloc's class counters, the shrinker list), or what a
// wakeup asked for (see kswapd()).
void kswapd_node_changed(Mm& mm);
inline void kswapd_note_change(Mm& mm) {
  if (mm.kswapd.running) kswapd_node_changed(mm);
}

}  // namespace pagesim::mm
