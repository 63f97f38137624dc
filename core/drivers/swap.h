// Swap over zram: what mm/page_io.c, mm/swapfile.c and do_swap_page ask of the block
// device under them, zram being the only one the model has.
#pragma once
#include <cstdint>

#include "mm/mm.h"

namespace pagesim::drivers {

// swap_entry_free's part: the swap_info lock, then the block device's
// swap_slot_free_notify (zs_free in atomic context).
void swap_entry_free(mm::Mm& mm, uint32_t index);
// A swap-in of the slot (do_swap_page): swapcache_prepare takes the swap_info lock, then
// swap_readpage reads the slot. Returns its content token.
uint32_t swap_in(mm::Mm& mm, uint32_t index);
// end_swap_bio_read: the read of a swap cache page completes (softirq context when zram
// chained it to the backing device's bio); until e914d8f00391 (5.18)
// swap_slot_free_notify frees the slot there.
void end_swap_bio_read(mm::Mm& mm, uint32_t index);

}  // namespace pagesim::drivers
