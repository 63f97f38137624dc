// mm/page_io.c and mm/swapfile.c of Linux 4.8, as far as they call zram; with
// e914d8f00391 (5.18).
#include "drivers/swap.h"

#include "drivers/drivers.h"

namespace pagesim::drivers {
namespace {

SpinLock& swap_lock(mm::Mm& mm) { return drivers_of(mm).zram.swap_lock; }

// swapcache_prepare -> __swap_duplicate: swap_info_get() takes si->lock to claim the entry
// for the swap cache (SWAP_HAS_CACHE), and drops it.
void swapcache_prepare(mm::Mm& mm) {
  MODEL_FUNC("swapcache_prepare");
  spin_lock(swap_lock(mm));
  spin_unlock(swap_lock(mm));
}

}  // namespace

void swap_entry_free(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("swap_entry_free");
  // swap_info_get() took si->lock; swap_entry_free calls the block device's
  // swap_slot_free_notify with it held: nothing below may sleep.
  spin_lock(swap_lock(mm));
  zram_slot_free_notify(mm, index);
  spin_unlock(swap_lock(mm));
}

uint32_t swap_in(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("do_swap_page");
  swapcache_prepare(mm);
  return uint32_t(zram_bvec_rw(mm, index, false));  // swap_readpage -> zram_rw_page
}

void end_swap_bio_read(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("end_swap_bio_read");
  // SetPageUptodate(page), then, before e914d8f00391, swap_slot_free_notify: the page is
  // in the swap cache of a block device with swap_slot_free_notify (SetPageDirty, and the
  // notify). unlock_page and the waiter's wake-up are not modelled.
  if (mm.cfg.has(Fix::SwapNoSlotFreeNotify)) return;
  MODEL_FUNC("swap_slot_free_notify");
  zram_slot_free_notify(mm, index);
}

}  // namespace pagesim::drivers
