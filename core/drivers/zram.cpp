// drivers/block/zram/zram_drv.c of Linux 4.8: the paths that reach zsmalloc.
#include "drivers/zram.h"

#include "drivers/drivers.h"
#include "mm/page_alloc.h"

namespace pagesim::drivers {
namespace {

Zram& device(mm::Mm& mm) {
  Zram& z = drivers_of(mm).zram;
  if (!z.live) throw UsageError("zram: no device (call zram_create first)");
  return z;
}

ZramSlot& slot(mm::Mm& mm, uint32_t index) {
  Zram& z = device(mm);
  if (index >= z.table.size())
    throw UsageError("zram: slot " + std::to_string(index) + " out of range (the device has " +
                     std::to_string(z.table.size()) + " slots)");
  return z.table[index];
}

bool zram_test_flag(mm::Mm& mm, uint32_t index, int flag) {
  return test_bit(flag, slot(mm, index).value, zram_slot_obj(index), here());
}
void zram_set_flag(mm::Mm& mm, uint32_t index, int flag) {
  set_bit(flag, slot(mm, index).value, zram_slot_obj(index), here());
}
void zram_clear_flag(mm::Mm& mm, uint32_t index, int flag) {
  clear_bit(flag, slot(mm, index).value, zram_slot_obj(index), here());
}
uint32_t zram_get_obj_size(mm::Mm& mm, uint32_t index) {
  return uint32_t(slot(mm, index).value & ((uint64_t(1) << ZRAM_FLAG_SHIFT) - 1));
}
void zram_set_obj_size(mm::Mm& mm, uint32_t index, uint32_t size) {
  ZramSlot& s = slot(mm, index);
  s.value = (s.value >> ZRAM_FLAG_SHIFT << ZRAM_FLAG_SHIFT) | size;
}

void slot_lock(mm::Mm& mm, uint32_t index) {
  bit_spin_lock(ZRAM_ACCESS, slot(mm, index).value, zram_slot_obj(index), here());
}
void slot_unlock(mm::Mm& mm, uint32_t index) {
  bit_spin_unlock(ZRAM_ACCESS, slot(mm, index).value, zram_slot_obj(index), here());
}

void stat_update(uint32_t line = here()) {
  sched(Op::AtomicRmw, Access::Write, make_obj(zramobj::kDevice, 0), line);
}

const bool registered = [] {
  register_obj_class(zramobj::kSlot, "zram slot", [](uint64_t i, const World*) {
    return "zram slot " + std::to_string(i);
  });
  register_obj_class(zramobj::kSwapLock, "swap_info lock");
  register_obj_class(zramobj::kDevice, "zram");
  return true;
}();

}  // namespace

void zram_create(mm::Mm& mm, uint32_t slots) {
  MODEL_FUNC("zram_create");
  Zram& z = drivers_of(mm).zram;
  (void)registered;
  if (z.live) throw UsageError("zram: the device exists already");
  if (slots == 0) throw UsageError("zram: disksize must be at least one page");
  z.pool = zs_create_pool(mm, "zram0");
  z.table.assign(slots, ZramSlot{});
  z.swap_lock.id = make_obj(zramobj::kSwapLock, 0);
  z.stats = ZramStats{};
  z.live = true;
}

// zram_free_page: the slot's bit lock is held.
void zram_free_page(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_free_page");
  Zram& z = device(mm);
  sched(Op::Read, Access::Read, zram_slot_obj(index), here());
  const uint64_t handle = slot(mm, index).handle;
  if (!handle) {
    // No memory is allocated for zero filled pages; simply clear the zero flag.
    if (zram_test_flag(mm, index, ZRAM_ZERO)) {
      zram_clear_flag(mm, index, ZRAM_ZERO);
      stat_update();
      z.stats.zero_pages--;
    }
    slot(mm, index).written = 0;
    return;
  }
  zs_free(mm, z.pool, handle);
  stat_update();
  z.stats.compr_data_size -= zram_get_obj_size(mm, index);
  z.stats.pages_stored--;
  sched(Op::Write, Access::Write, zram_slot_obj(index), here());
  ZramSlot& s = slot(mm, index);
  s.handle = 0;
  s.written = 0;
  zram_set_obj_size(mm, index, 0);
}

int zram_bvec_write(mm::Mm& mm, uint32_t index, uint32_t clen, uint32_t content) {
  MODEL_FUNC("zram_bvec_write");
  Zram& z = device(mm);
  slot(mm, index);  // range check
  if (content == 0) {
    // page_zero_filled: no memory is allocated.
    slot_lock(mm, index);
    zram_free_page(mm, index);
    zram_set_flag(mm, index, ZRAM_ZERO);
    slot_unlock(mm, index);
    stat_update();
    z.stats.zero_pages++;
    return 0;
  }
  // zcomp_compress: the model is given the compressed length.
  delay(clen / 4 + 100);
  if (clen > zram_max_zpage_size) clen = 4096;  // store the page uncompressed

  // The fast path may not sleep: it keeps the per-CPU compression stream.
  uint64_t handle = zs_malloc(mm, z.pool, clen,
                              mm::__GFP_KSWAPD_RECLAIM | mm::__GFP_NOWARN | mm::__GFP_HIGHMEM |
                                  mm::__GFP_MOVABLE);
  if (!handle) {
    // zcomp_stream_put, then the slow path, which may enter direct reclaim.
    stat_update();
    z.stats.writestall++;
    handle = zs_malloc(mm, z.pool, clen, mm::GFP_NOIO | mm::__GFP_HIGHMEM | mm::__GFP_MOVABLE);
    if (!handle) {
      stat_update();
      z.stats.failed_writes++;
      return -ENOMEM;
    }
    delay(clen / 4 + 100);  // compress_again
  }

  zs_write_object(mm, z.pool, handle, content);  // zs_map_object(ZS_MM_WO), memcpy, unmap

  // Free memory associated with this sector before overwriting unused sectors.
  slot_lock(mm, index);
  zram_free_page(mm, index);
  sched(Op::Write, Access::Write, zram_slot_obj(index), here());
  ZramSlot& s = slot(mm, index);
  s.handle = handle;
  s.written = content;
  zram_set_obj_size(mm, index, clen);
  slot_unlock(mm, index);

  stat_update();
  z.stats.compr_data_size += clen;
  z.stats.pages_stored++;
  return 0;
}

uint32_t zram_bvec_read(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_bvec_read");
  Zram& z = device(mm);
  slot(mm, index);
  // zram_decompress_page
  slot_lock(mm, index);
  sched(Op::Read, Access::Read, zram_slot_obj(index), here());
  const uint64_t handle = slot(mm, index).handle;
  if (!handle || zram_test_flag(mm, index, ZRAM_ZERO)) {
    slot_unlock(mm, index);
    return 0;  // clear_page
  }
  const uint32_t content = zs_read_object(mm, z.pool, handle);  // zs_map_object(ZS_MM_RO)
  const uint32_t expected = slot(mm, index).written;
  slot_unlock(mm, index);
  if (content != expected) {
    stat_update();
    z.stats.failed_reads++;
    const std::string msg = "zram slot " + std::to_string(index) + " read back content " +
                            std::to_string(content) + ", " + std::to_string(expected) + " was written";
    if (Sim* s = Sim::current(); s && s->current_task())
      s->report(OutcomeKind::Corruption, "zram_bvec_read", msg);
    else
      throw SetupFault("data corruption: " + msg);
  }
  return content;
}

namespace {
// What zram_bio_discard and zram_slot_free_notify both do to a slot: free its page under
// the slot lock and count it in stats.notify_free.
void free_slot_notify(mm::Mm& mm, uint32_t index) {
  Zram& z = device(mm);
  slot(mm, index);
  slot_lock(mm, index);
  zram_free_page(mm, index);
  slot_unlock(mm, index);
  stat_update();
  z.stats.notify_free++;
}
}  // namespace

void zram_discard(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_bio_discard");
  free_slot_notify(mm, index);
}

void zram_slot_free_notify(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_slot_free_notify");
  free_slot_notify(mm, index);
}

void swap_entry_free(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("swap_entry_free");
  Zram& z = device(mm);
  slot(mm, index);
  // swap_info_get() took si->lock; swap_entry_free calls the block device's
  // swap_slot_free_notify with it held: nothing below may sleep.
  spin_lock(z.swap_lock);
  zram_slot_free_notify(mm, index);
  spin_unlock(z.swap_lock);
}

namespace {
// swapcache_prepare -> __swap_duplicate: swap_info_get() takes si->lock to claim the entry
// for the swap cache (SWAP_HAS_CACHE), and drops it.
void swapcache_prepare(mm::Mm& mm) {
  MODEL_FUNC("swapcache_prepare");
  Zram& z = device(mm);
  spin_lock(z.swap_lock);
  spin_unlock(z.swap_lock);
}
}  // namespace

uint32_t swap_in(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("do_swap_page");
  slot(mm, index);
  swapcache_prepare(mm);
  return zram_bvec_read(mm, index);  // swap_readpage -> zram_rw_page
}

std::vector<std::string> zram_check(const Drivers& d) {
  std::vector<std::string> out;
  const Zram& z = d.zram;
  if (!z.live) return out;
  uint64_t stored = 0, zero = 0, size = 0;
  for (uint32_t i = 0; i < z.table.size(); ++i) {
    const ZramSlot& s = z.table[i];
    const auto at = [i] { return "zram slot " + std::to_string(i); };
    if ((s.value >> ZRAM_ACCESS) & 1) out.push_back(at() + ": still locked");
    if ((s.value >> ZRAM_ZERO) & 1) {
      ++zero;
      if (s.handle) out.push_back(at() + ": zero page with a handle");
    }
    if (!s.handle) continue;
    ++stored;
    size += s.value & ((uint64_t(1) << ZRAM_FLAG_SHIFT) - 1);
    if (!zs_handle_valid(d, z.pool, s.handle)) {
      out.push_back(at() + ": handle " + std::to_string(s.handle) + " is not allocated");
      continue;
    }
    if (zs_peek(d, z.pool, s.handle) != s.written)
      out.push_back(at() + ": holds content " + std::to_string(zs_peek(d, z.pool, s.handle)) + ", " +
                    std::to_string(s.written) + " was written");
  }
  if (stored != z.stats.pages_stored)
    out.push_back("zram: pages_stored " + std::to_string(z.stats.pages_stored) + " but " +
                  std::to_string(stored) + " slots hold a handle");
  if (zero != z.stats.zero_pages)
    out.push_back("zram: zero_pages " + std::to_string(z.stats.zero_pages) + " but " + std::to_string(zero) +
                  " slots are ZRAM_ZERO");
  if (size != z.stats.compr_data_size)
    out.push_back("zram: compr_data_size " + std::to_string(z.stats.compr_data_size) + " but slots hold " +
                  std::to_string(size));
  return out;
}

}  // namespace pagesim::drivers
