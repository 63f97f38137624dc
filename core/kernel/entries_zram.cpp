// Entry points of zram (see kernel/entry.h).
#include <limits>

#include "drivers/swap.h"
#include "kernel/entry.h"

namespace pagesim::kernel {
namespace {

using Args = std::span<const int64_t>;

const drivers::Zram& device(const Kernel& k) {
  if (!k.zram.live) throw UsageError("zram: no device (zram_create(slots) makes it)");
  return k.zram;
}

uint32_t slot_arg(const Kernel& k, int64_t v) {
  const auto& z = device(k);
  if (v < 0 || uint64_t(v) >= z.table.size())
    throw UsageError("zram slot " + std::to_string(v) + " out of range (the device has " +
                     std::to_string(z.table.size()) + " slots)");
  return uint32_t(v);
}

// A count of pages or blocks a device is made of: 1..2^24.
uint32_t pages_arg(const char* entry, const char* what, int64_t v) {
  if (v <= 0 || v > (int64_t(1) << 24))
    throw UsageError(std::string(entry) + ": " + what + " must be 1..2^24, got " + std::to_string(v));
  return uint32_t(v);
}

}  // namespace

std::vector<EntryPoint> zram_entries() {
  return {
      {"zram_create", "slots",
       "create the zram device with `slots` pages of disksize over a new zsmalloc pool; returns 0",
       [](Kernel& k, Args a) -> int64_t {
         drivers::zram_create(k, pages_arg("zram_create", "slots", a[0]));
         return 0;
       }},
      {"zram_backing_dev", "blocks",
       "backing_dev_store before zram_create: a backing device of `blocks` blocks (4.14's "
       "writeback, db8ffbd4e763), where incompressible pages go; returns 0",
       [](Kernel& k, Args a) -> int64_t {
         drivers::zram_set_backing_dev(k, pages_arg("zram_backing_dev", "blocks", a[0]));
         return 0;
       }},
      {"zram_write", "slot, size, token",
       "zram_bvec_rw, a write: store a page compressed to `size` bytes (1..4096) with content `token` "
       "(0: a zero-filled page); returns 0, 1 when it went to the backing device (4.14 to "
       "4.20: a huge page, over 3072 bytes or from 4.17 at least zsmalloc's huge class size, "
       "with a backing device that has room), or -ENOMEM",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t s = slot_arg(k, a[0]);
         if (a[1] <= 0 || a[1] > 4096)
           throw UsageError("zram_write: the compressed size must be 1..4096 bytes, got " +
                            std::to_string(a[1]));
         if (a[2] < 0 || a[2] > int64_t(std::numeric_limits<uint32_t>::max()))
           throw UsageError("zram_write: a content token must be 0..2^32-1, got " + std::to_string(a[2]));
         return drivers::zram_bvec_rw(k, s, true, uint32_t(a[1]), uint32_t(a[2]));
       }},
      {"zram_read", "slot",
       "zram_bvec_rw, a read: the slot's content token (0 if empty or zero-filled); data other than "
       "what was written is reported as corruption",
       [](Kernel& k, Args a) -> int64_t { return drivers::zram_bvec_rw(k, slot_arg(k, a[0]), false); }},
      {"zram_discard", "slot", "discard one page (zram_bio_discard)",
       [](Kernel& k, Args a) -> int64_t {
         drivers::zram_discard(k, slot_arg(k, a[0]));
         return 0;
       }},
      {"zram_slot_free_notify", "slot",
       "swap frees the slot: zram_slot_free_notify under the swap_info spinlock (zs_free in "
       "atomic context)",
       [](Kernel& k, Args a) -> int64_t {
         drivers::swap_entry_free(k, slot_arg(k, a[0]));
         return 0;
       }},
      {"zram_writeback", "idle",
       "writeback_store (5.0, a939888ec38b): every huge slot (idle 0: \"huge\", stored "
       "uncompressed) or every ZRAM_IDLE slot (idle 1: \"idle\") to a block of the backing "
       "device (before 1d69a3f8ae77 every slot, whatever the mode), until the writeback limit "
       "stops it; returns the slots written back, -ENOSPC or -ENODEV",
       [](Kernel& k, Args a) -> int64_t {
         device(k);
         if (a[0] != 0 && a[0] != 1)
           throw UsageError("zram_writeback: idle must be 0 (\"huge\") or 1 (\"idle\"), got " +
                            std::to_string(a[0]));
         return drivers::zram_writeback(k, a[0] == 1);
       }},
      {"zram_writeback_limit", "pages",
       "writeback_limit_store (5.0, bb416d18b850): the budget of pages writeback_store may "
       "write back (4K units); with bb416d18b850 alone 0 is no limit and clears a stop, from "
       "1d69a3f8ae77 the budget counts only with zram_writeback_limit_enable; returns 0",
       [](Kernel& k, Args a) -> int64_t {
         device(k);
         if (a[0] < 0)
           throw UsageError("zram_writeback_limit: the limit must be 0 or more pages, got " + std::to_string(a[0]));
         drivers::zram_set_writeback_limit(k, uint64_t(a[0]));
         return 0;
       }},
      {"zram_writeback_limit_enable", "on",
       "writeback_limit_enable_store (5.0, 1d69a3f8ae77): 1 makes writeback_store stop when "
       "the budget is 0, 0 ignores the budget; returns 0",
       [](Kernel& k, Args a) -> int64_t {
         device(k);
         if (a[0] != 0 && a[0] != 1)
           throw UsageError("zram_writeback_limit_enable: on must be 0 or 1, got " + std::to_string(a[0]));
         drivers::zram_set_writeback_limit_enable(k, a[0] == 1);
         return 0;
       }},
      {"zram_idle", "",
       "idle_store(\"all\") (5.0, e82592c4fd7e): every allocated slot not under writeback is "
       "marked ZRAM_IDLE, until its next access or free; returns 0",
       [](Kernel& k, Args) -> int64_t {
         drivers::zram_mark_idle(k);
         return 0;
       }},
      {"end_swap_bio_read", "slot",
       "the read of a swap cache page from the slot completes: until e914d8f00391 (5.18) "
       "swap_slot_free_notify frees the slot (zram_slot_free_notify, no swap_info lock). With "
       "a backing device zram chains the read of a written-back slot to the device's bio, "
       "whose completion runs in softirq context: spawn it with k.cpu(i).softirq",
       [](Kernel& k, Args a) -> int64_t {
         drivers::end_swap_bio_read(k, slot_arg(k, a[0]));
         return 0;
       }},
      {"swap_in", "slot",
       "a swap-in of the slot (do_swap_page): swapcache_prepare under the swap_info spinlock, "
       "then the read (zram_rw_page -> zram_bvec_rw); returns the content token",
       [](Kernel& k, Args a) -> int64_t { return drivers::swap_in(k, slot_arg(k, a[0])); }},
      {"zram_handle", "slot",
       "the zsmalloc handle of the slot (0: empty, zero-filled or written back)",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t s = slot_arg(k, a[0]);
         sched(Op::Read, Access::Read, drivers::zram_slot_obj(s), here());
         const auto& slot = k.zram.table[s];
         return (slot.value >> drivers::ZRAM_WB) & 1 ? 0 : int64_t(slot.handle);
       }},
      {"zram_wb_block", "slot",
       "the block of the backing device a written-back (ZRAM_WB) slot is on; 0 if it is not",
       [](Kernel& k, Args a) -> int64_t {
         const uint32_t s = slot_arg(k, a[0]);
         sched(Op::Read, Access::Read, drivers::zram_slot_obj(s), here());
         const auto& slot = k.zram.table[s];
         return (slot.value >> drivers::ZRAM_WB) & 1 ? int64_t(slot.handle) : 0;
       }},
      {"zram_pool", "", "the zsmalloc pool id of the zram device",
       [](Kernel& k, Args) -> int64_t { return device(k).pool; }},
      {"zram_compact", "",
       "zram's compact attribute: zs_compact on its pool; returns the pages this call compacted",
       [](Kernel& k, Args) -> int64_t {
         const uint32_t p = device(k).pool;
         const uint64_t before = k.zsmalloc.pools[p].pages_compacted;
         return int64_t(drivers::zs_compact(k, p) - before);
       }},
  };
}

}  // namespace pagesim::kernel
