// drivers/block/zram/zram_drv.c of Linux 4.8: the paths that reach zsmalloc; with 4.14's
// writeback (db8ffbd4e763) as 4.19.0 has it, and 3c9959e02547 (5.0).
#include "drivers/zram.h"

#include "drivers/drivers.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"

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
bool slot_trylock(mm::Mm& mm, uint32_t index) {
  return bit_spin_trylock(ZRAM_ACCESS, slot(mm, index).value, zram_slot_obj(index), here());
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
  register_obj_class(zramobj::kDevice, "zram", [](uint64_t i, const World*) {
    static const char* const name[] = {"zram->stats", "zcomp strm_lock", "zram->wb_limit_lock",
                                       "zram writeback limit"};
    return std::string(i < 4 ? name[i] : "zram");
  });
  register_obj_class(zramobj::kBackingDev, "zram backing device", [](uint64_t i, const World*) {
    return i == 0   ? std::string("zram->bitmap_lock")
           : i == 1 ? std::string("zram backing device blocks")
                    : "zram->bitmap word " + std::to_string(i - 2);
  });
  return true;
}();

// ---- the backing device (4.14's writeback, db8ffbd4e763) ----

bool zram_wb_enabled(const Zram& z) { return z.bdev.nr_pages != 0; }

// find_next_zero_bit: reads the bitmap a word at a time from `from`; nr_pages if none.
uint32_t find_next_zero_bit(ZramBackingDev& b, uint32_t from) {
  for (uint32_t bit = from; bit < b.nr_pages; ++bit) {
    if (bit == from || bit % 64 == 0) sched(Op::Read, Access::Read, zram_bitmap_obj(bit / 64), here());
    if (!((b.bitmap[bit / 64] >> (bit % 64)) & 1)) return bit;
  }
  return b.nr_pages;
}

// What 3c9959e02547 made of the block allocation: no lock; a block another CPU took first
// is looked for again.
unsigned long find_free_block_lockless(ZramBackingDev& b) {
  uint32_t blk_idx = 1;
  for (;;) {
    // skip 0 bit to confuse zram.handle = 0
    blk_idx = find_next_zero_bit(b, blk_idx);
    if (blk_idx == b.nr_pages) return 0;
    if (!test_and_set_bit(blk_idx % 64, b.bitmap[blk_idx / 64], zram_bitmap_obj(blk_idx / 64)))
      return blk_idx;
  }
}

// get_entry_bdev (4.14): a free block under bitmap_lock, or 0 when the device is full.
unsigned long get_entry_bdev(mm::Mm& mm, Zram& z) {
  MODEL_FUNC("get_entry_bdev");
  ZramBackingDev& b = z.bdev;
  if (mm.cfg.has(Fix::ZramFreeNotifyTrylock)) return find_free_block_lockless(b);  // 4.19.y
  spin_lock(b.bitmap_lock);
  // skip 0 bit to confuse zram.handle = 0
  const uint32_t entry = find_next_zero_bit(b, 1);
  if (entry == b.nr_pages) {
    spin_unlock(b.bitmap_lock);
    return 0;
  }
  set_bit(entry % 64, b.bitmap[entry / 64], zram_bitmap_obj(entry / 64));
  spin_unlock(b.bitmap_lock);
  return entry;
}

// test_and_clear_bit of a block (false for a block past the device's end).
bool clear_block(ZramBackingDev& b, unsigned long entry) {
  return entry < b.nr_pages &&
         test_and_clear_bit(entry % 64, b.bitmap[entry / 64], zram_bitmap_obj(entry / 64));
}

// put_entry_bdev (4.14): the block back, under bitmap_lock until 3c9959e02547.
void put_entry_bdev(mm::Mm& mm, Zram& z, unsigned long entry) {
  MODEL_FUNC("put_entry_bdev");
  ZramBackingDev& b = z.bdev;
  const bool locked = !mm.cfg.has(Fix::ZramFreeNotifyTrylock);
  if (locked) spin_lock(b.bitmap_lock);
  const bool was_set = clear_block(b, entry);
  if (locked) spin_unlock(b.bitmap_lock);
  WARN_ON_ONCE(!was_set, "block " + std::to_string(entry) + " of the backing device was free");
}

// atomic64_inc or _dec of a bd_stat counter (23eddf39b2c2).
void bd_stat(const mm::Mm& mm, uint64_t& counter, int64_t by) {
  if (!mm.cfg.has(Fix::ZramBdStat)) return;
  stat_update();
  counter += uint64_t(by);
}

// alloc_block_bdev and free_block_bdev: 5.0's names, lockless since 3c9959e02547.
unsigned long alloc_block_bdev(mm::Mm& mm, Zram& z) {
  MODEL_FUNC("alloc_block_bdev");
  const unsigned long blk_idx = find_free_block_lockless(z.bdev);
  if (blk_idx) bd_stat(mm, z.stats.bd_count, 1);
  return blk_idx;
}

void free_block_bdev(mm::Mm& mm, Zram& z, unsigned long blk_idx) {
  MODEL_FUNC("free_block_bdev");
  const bool was_set = clear_block(z.bdev, blk_idx);
  WARN_ON_ONCE(!was_set, "block " + std::to_string(blk_idx) + " of the backing device was free");
  bd_stat(mm, z.stats.bd_count, -1);
}

// write_to_bdev: a block for the page, and the page written there (submit_bio; the model
// writes it at once). 0, or -ENOSPC when the backing device is full.
int write_to_bdev(mm::Mm& mm, Zram& z, uint32_t content, unsigned long* pentry) {
  MODEL_FUNC("write_to_bdev");
  const unsigned long entry = get_entry_bdev(mm, z);
  if (!entry) return -ENOSPC;
  sched(Op::Write, Access::Write, zram_blocks_obj(), here());
  z.bdev.blocks[entry] = content;
  *pentry = entry;
  return 0;
}

// read_from_bdev: the block's content (read_from_bdev_async; the model reads it at once).
uint32_t read_from_bdev(mm::Mm& mm, Zram& z, unsigned long entry) {
  MODEL_FUNC("read_from_bdev");
  bd_stat(mm, z.stats.bd_reads, 1);
  sched(Op::Read, Access::Read, zram_blocks_obj(), here());
  return entry < z.bdev.nr_pages ? z.bdev.blocks[entry] : 0;
}

// zram_wb_clear: the slot lock is held.
void zram_wb_clear(mm::Mm& mm, Zram& z, uint32_t index) {
  MODEL_FUNC("zram_wb_clear");
  zram_clear_flag(mm, index, ZRAM_WB);
  sched(Op::Read, Access::Read, zram_slot_obj(index), here());
  const unsigned long entry = slot(mm, index).handle;  // zram_get_element
  sched(Op::Write, Access::Write, zram_slot_obj(index), here());
  slot(mm, index).handle = 0;  // zram_set_element(zram, index, 0)
  put_entry_bdev(mm, z, entry);
}

// The slot now names block `block` of the backing device, which holds `content` (the slot
// lock is held and the slot was freed).
void set_written_back(mm::Mm& mm, uint32_t index, unsigned long block, uint32_t content) {
  zram_set_flag(mm, index, ZRAM_WB);
  sched(Op::Write, Access::Write, zram_slot_obj(index), here());
  slot(mm, index).handle = block;  // zram_set_element
  slot(mm, index).written = content;
}

// A page that compressed to `clen` bytes is stored uncompressed: above max_zpage_size
// (3/4 of a page), or from 4.17 at zsmalloc's huge class size.
bool is_huge(const mm::Mm& mm, const Zram& z, uint32_t clen) {
  if (!mm.cfg.has(Fix::ZramHugeClassSize)) return clen > zram_max_zpage_size;
  return clen >= zs_huge_class_size(drivers_of(mm), z.pool);
}

// The content a read must give back, reported as corruption when it differs.
void check_read(Zram& z, uint32_t index, uint32_t content, uint32_t expected) {
  if (content == expected) return;
  stat_update();
  z.stats.failed_reads++;
  REPORT_CORRUPTION("zram_bvec_read", "zram slot " + std::to_string(index) + " read back content " +
                                          std::to_string(content) + ", " + std::to_string(expected) +
                                          " was written");
}

}  // namespace

void zram_set_backing_dev(mm::Mm& mm, uint32_t blocks) {
  MODEL_FUNC("backing_dev_store");
  Zram& z = drivers_of(mm).zram;
  if (!mm.cfg.has(Fix::ZramWriteback))
    throw UsageError("zram: no backing_dev before 4.14's db8ffbd4e763 (zram writeback); this "
                     "kernel does not have it");
  // backing_dev_store: "Cannot change backing_dev after init" (-EBUSY).
  if (z.live) throw UsageError("zram: set the backing device before zram_create (disksize), as the kernel requires");
  if (blocks < 2) throw UsageError("zram: a backing device needs at least 2 blocks (block 0 is never used)");
  z.bdev.nr_pages = blocks;
  z.bdev.bitmap.assign((blocks + 63) / 64, 0);
  z.bdev.blocks.assign(blocks, 0);
  z.bdev.bitmap_lock.id = zram_bitmap_lock_obj();
}

void zram_create(mm::Mm& mm, uint32_t slots) {
  MODEL_FUNC("zram_create");
  Zram& z = drivers_of(mm).zram;
  (void)registered;
  if (z.live) throw UsageError("zram: the device exists already");
  if (slots == 0) throw UsageError("zram: disksize must be at least one page");
  z.pool = zs_create_pool(mm, "zram0");
  z.table.assign(slots, ZramSlot{});
  z.swap_lock.id = make_obj(zramobj::kSwapLock, 0);
  z.strm_lock.id = make_obj(zramobj::kDevice, 1);
  z.wb_limit_lock.id = make_obj(zramobj::kDevice, 2);
  z.stats = ZramStats{};
  z.live = true;
}

// zram_free_page: the slot's bit lock is held.
void zram_free_page(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_free_page");
  Zram& z = device(mm);
  if (mm.cfg.has(Fix::ZramIdleFlag) && zram_test_flag(mm, index, ZRAM_IDLE))
    zram_clear_flag(mm, index, ZRAM_IDLE);
  if (mm.cfg.has(Fix::ZramIdleHugeWriteback)) {
    if (zram_test_flag(mm, index, ZRAM_WB)) {
      zram_clear_flag(mm, index, ZRAM_WB);
      sched(Op::Read, Access::Read, zram_slot_obj(index), here());
      free_block_bdev(mm, z, slot(mm, index).handle);  // zram_get_element
      stat_update();
      z.stats.pages_stored--;
      sched(Op::Write, Access::Write, zram_slot_obj(index), here());
      slot(mm, index).handle = 0;
      slot(mm, index).written = 0;
      return;
    }
  } else if (zram_wb_enabled(z) && zram_test_flag(mm, index, ZRAM_WB)) {
    zram_wb_clear(mm, z, index);
    stat_update();
    z.stats.pages_stored--;
    slot(mm, index).written = 0;
    return;
  }
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

namespace {

// Before da9556a2367c (4.7) the compression stream is the device's one (max_comp_streams
// 1, the default): zcomp_strm_find takes its mutex before the zero-page check and
// zcomp_strm_release drops it after the copy, so writers queue on it, allocation included.
// Since, it is the CPU's own (get_cpu_ptr) from compression to the copy.
bool one_stream(const mm::Mm& mm) { return !mm.cfg.has(Fix::ZramPerCpuStreams); }

// zram's zs_malloc gfp: __GFP_MOVABLE only since "zram: use __GFP_MOVABLE for memory
// allocation" (4.8), when zsmalloc's pages became migratable.
mm::gfp_t zram_gfp(const mm::Mm& mm, mm::gfp_t gfp) {
  return mm.cfg.has(Fix::ZramGfpMovable) ? gfp | mm::__GFP_MOVABLE : gfp;
}

uint64_t zram_zs_malloc(mm::Mm& mm, Zram& z, uint32_t clen) {
  // 4.4: one zs_malloc, the pool's GFP_NOIO | __GFP_HIGHMEM, under the stream's mutex.
  if (one_stream(mm)) return zs_malloc(mm, z.pool, clen, zram_gfp(mm, mm::GFP_NOIO | mm::__GFP_HIGHMEM));
  // The fast path may not sleep: it keeps the per-CPU compression stream.
  uint64_t handle =
      zs_malloc(mm, z.pool, clen,
                zram_gfp(mm, mm::__GFP_KSWAPD_RECLAIM | mm::__GFP_NOWARN | mm::__GFP_HIGHMEM));
  if (handle) return handle;
  // zcomp_stream_put, then the slow path, which may enter direct reclaim.
  stat_update();
  z.stats.writestall++;
  handle = zs_malloc(mm, z.pool, clen, zram_gfp(mm, mm::GFP_NOIO | mm::__GFP_HIGHMEM));
  if (handle) delay(clen / 4 + 100);  // compress_again
  return handle;
}

// zram_bvec_write after zcomp_strm_find; `strm` is the held single stream (4.4), if any.
int write_page(mm::Mm& mm, Zram& z, uint32_t index, uint32_t clen, uint32_t content, Mutex*& strm) {
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
  if (is_huge(mm, z, clen)) {
    // 4.14: an incompressible page goes to the backing device if there is room.
    unsigned long element = 0;
    const bool allow_wb = zram_wb_enabled(z) && !mm.cfg.has(Fix::ZramIdleHugeWriteback);
    if (allow_wb && write_to_bdev(mm, z, content, &element) == 0) {
      slot_lock(mm, index);
      zram_free_page(mm, index);
      set_written_back(mm, index, element, content);
      slot_unlock(mm, index);
      stat_update();
      z.stats.pages_stored++;
      return 1;
    }
    if (allow_wb) delay(clen / 4 + 100);  // allow_wb = false; goto compress_again
    clen = 4096;  // store the page uncompressed
  }

  const uint64_t handle = zram_zs_malloc(mm, z, clen);
  if (!handle) {
    stat_update();
    z.stats.failed_writes++;
    return -ENOMEM;
  }
  // zs_map_object(ZS_MM_WO), memcpy, unmap. (4.4 releases the stream between the copy and
  // the unmap; here the release follows the unmap.)
  zs_write_object(mm, z.pool, handle, content);
  if (strm) {
    mutex_unlock(*strm);  // zcomp_strm_release(zram->comp, zstrm); zstrm = NULL
    strm = nullptr;
  }

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

}  // namespace

int zram_bvec_write(mm::Mm& mm, uint32_t index, uint32_t clen, uint32_t content) {
  MODEL_FUNC("zram_bvec_write");
  Zram& z = device(mm);
  slot(mm, index);  // range check
  Mutex* strm = one_stream(mm) ? &z.strm_lock : nullptr;
  if (strm) mutex_lock(*strm);  // zcomp_strm_find
  const int ret = write_page(mm, z, index, clen, content, strm);
  if (strm) mutex_unlock(*strm);  // out: if (zstrm) zcomp_strm_release
  return ret;
}

uint32_t zram_bvec_read(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_bvec_read");
  Zram& z = device(mm);
  slot(mm, index);
  // 5.0 tests ZRAM_WB under the lock it then reads the slot with; 4.14 locks twice, and
  // only with a backing device.
  const bool one_lock = mm.cfg.has(Fix::ZramIdleHugeWriteback);
  if (one_lock || zram_wb_enabled(z)) {
    slot_lock(mm, index);
    if (zram_test_flag(mm, index, ZRAM_WB)) {
      const uint32_t expected = slot(mm, index).written;
      slot_unlock(mm, index);
      // The element is read after the unlock, as __zram_bvec_read does.
      sched(Op::Read, Access::Read, zram_slot_obj(index), here());
      const uint32_t content = read_from_bdev(mm, z, slot(mm, index).handle);
      check_read(z, index, content, expected);
      return content;
    }
    if (!one_lock) slot_unlock(mm, index);
  }
  // zram_decompress_page
  if (!one_lock) slot_lock(mm, index);
  sched(Op::Read, Access::Read, zram_slot_obj(index), here());
  const uint64_t handle = slot(mm, index).handle;
  if (!handle || zram_test_flag(mm, index, ZRAM_ZERO)) {
    slot_unlock(mm, index);
    return 0;  // clear_page
  }
  const uint32_t content = zs_read_object(mm, z.pool, handle);  // zs_map_object(ZS_MM_RO)
  const uint32_t expected = slot(mm, index).written;
  slot_unlock(mm, index);
  check_read(z, index, content, expected);
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

// zram_allocated (4.15): the slot holds a page, stored, zero-filled or written back.
bool zram_allocated(mm::Mm& mm, uint32_t index) {
  sched(Op::Read, Access::Read, zram_slot_obj(index), here());
  const ZramSlot& s = slot(mm, index);
  return zram_get_obj_size(mm, index) || ((s.value >> ZRAM_ZERO) & 1) || ((s.value >> ZRAM_WB) & 1);
}

void zram_accessed(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_accessed");
  zram_clear_flag(mm, index, ZRAM_IDLE);
}
}  // namespace

int64_t zram_bvec_rw(mm::Mm& mm, uint32_t index, bool write, uint32_t clen, uint32_t content) {
  MODEL_FUNC("zram_bvec_rw");
  const int64_t ret = write ? int64_t(zram_bvec_write(mm, index, clen, content))
                            : int64_t(zram_bvec_read(mm, index));
  if (mm.cfg.has(Fix::ZramIdleFlag)) {
    slot_lock(mm, index);
    zram_accessed(mm, index);
    slot_unlock(mm, index);
  }
  return ret;
}

void zram_mark_idle(mm::Mm& mm) {
  MODEL_FUNC("idle_store");
  Zram& z = device(mm);
  if (!mm.cfg.has(Fix::ZramIdleFlag))
    throw UsageError("zram: no idle attribute before 5.0's e82592c4fd7e (zram: introduce ZRAM_IDLE flag)");
  for (uint32_t index = 0; index < z.table.size(); ++index) {
    // Do not mark ZRAM_UNDER_WB slot as ZRAM_IDLE to close race.
    slot_lock(mm, index);
    if (zram_allocated(mm, index) && !zram_test_flag(mm, index, ZRAM_UNDER_WB))
      zram_set_flag(mm, index, ZRAM_IDLE);
    slot_unlock(mm, index);
  }
}

namespace {
ObjId wb_limit_obj() { return make_obj(zramobj::kDevice, 3); }
bool wb_limit_cleanup(const mm::Mm& mm) { return mm.cfg.has(Fix::ZramIdleWritebackCleanup); }

// The top of writeback_store's loop: whether the writeback limit ends it (-EIO, which
// `ret = len` then hides).
bool wb_limit_reached(mm::Mm& mm, Zram& z) {
  if (wb_limit_cleanup(mm)) {
    spin_lock(z.wb_limit_lock);
    const bool reached = z.wb_limit_enable && !z.bd_wb_limit;
    spin_unlock(z.wb_limit_lock);
    return reached;
  }
  if (!mm.cfg.has(Fix::ZramWritebackThrottle)) return false;
  sched(Op::Read, Access::Read, wb_limit_obj(), here());  // zram->stop_writeback, unlocked
  return z.stop_writeback;
}

// A page written back comes off the budget (4K units: one per page).
void wb_limit_charge(mm::Mm& mm, Zram& z) {
  if (wb_limit_cleanup(mm)) {
    spin_lock(z.wb_limit_lock);
    if (z.wb_limit_enable && z.bd_wb_limit > 0) z.bd_wb_limit -= 1;
    spin_unlock(z.wb_limit_lock);
    return;
  }
  if (!mm.cfg.has(Fix::ZramWritebackThrottle)) return;
  // atomic64_add_unless(&zram->stats.bd_wb_limit, -1, 0): 0 is no limit.
  sched(Op::AtomicRmw, Access::Write, wb_limit_obj(), here());
  if (z.bd_wb_limit == 0) return;
  z.bd_wb_limit--;
  sched(Op::Read, Access::Read, wb_limit_obj(), here());  // atomic64_read
  if (z.bd_wb_limit != 0) return;
  sched(Op::Write, Access::Write, wb_limit_obj(), here());
  z.stop_writeback = true;
}
}  // namespace

int zram_writeback(mm::Mm& mm, bool idle) {
  MODEL_FUNC("writeback_store");
  Zram& z = device(mm);
  if (!mm.cfg.has(Fix::ZramIdleHugeWriteback))
    throw UsageError("zram: no writeback attribute before 5.0's a939888ec38b (zram: support "
                     "idle/huge page writeback); this kernel writes incompressible pages back "
                     "as zram_write stores them");
  if (!zram_wb_enabled(z)) return -ENODEV;
  int ret = 0;
  unsigned long blk_idx = 0;
  for (uint32_t index = 0; index < z.table.size(); ++index) {
    if (wb_limit_reached(mm, z)) break;
    if (!blk_idx) {
      blk_idx = alloc_block_bdev(mm, z);
      if (!blk_idx) {
        ret = -ENOSPC;
        break;
      }
    }
    slot_lock(mm, index);
    // Not written back, not same-filled, not under writeback already.
    bool skip = !zram_allocated(mm, index) || zram_test_flag(mm, index, ZRAM_WB) ||
                zram_test_flag(mm, index, ZRAM_ZERO) || zram_test_flag(mm, index, ZRAM_UNDER_WB);
    // Then ZRAM_IDLE, or ZRAM_HUGE: stored uncompressed (the model reads it from the size).
    // Before 1d69a3f8ae77, `(mode & IDLE_WRITEBACK && !ZRAM_IDLE) && (mode & HUGE_WRITEBACK &&
    // !ZRAM_HUGE)` with one mode bit set, which never skips (it reads ZRAM_IDLE for "idle").
    if (!skip && wb_limit_cleanup(mm))
      skip = idle ? !zram_test_flag(mm, index, ZRAM_IDLE) : zram_get_obj_size(mm, index) != 4096;
    else if (!skip && idle)
      zram_test_flag(mm, index, ZRAM_IDLE);
    if (skip) {
      slot_unlock(mm, index);
      continue;
    }
    // Clearing ZRAM_UNDER_WB is duty of caller. IOW, zram_free_page never clear it.
    zram_set_flag(mm, index, ZRAM_UNDER_WB);
    // Need for hugepage writeback racing
    zram_set_flag(mm, index, ZRAM_IDLE);
    slot_unlock(mm, index);
    const uint32_t content = zram_bvec_read(mm, index);
    // submit_bio_wait: the page to block blk_idx.
    sched(Op::Write, Access::Write, zram_blocks_obj(), here());
    z.bdev.blocks[blk_idx] = content;
    bd_stat(mm, z.stats.bd_writes, 1);
    // The slot lock was dropped: a slot freed meanwhile is not allocated any more, and one
    // freed and written again lost ZRAM_IDLE in zram_free_page.
    slot_lock(mm, index);
    if (!zram_allocated(mm, index) || !zram_test_flag(mm, index, ZRAM_IDLE)) {
      zram_clear_flag(mm, index, ZRAM_UNDER_WB);
      zram_clear_flag(mm, index, ZRAM_IDLE);
      slot_unlock(mm, index);
      continue;
    }
    zram_free_page(mm, index);
    zram_clear_flag(mm, index, ZRAM_UNDER_WB);
    set_written_back(mm, index, blk_idx, content);
    blk_idx = 0;
    stat_update();
    z.stats.pages_stored++;
    wb_limit_charge(mm, z);
    ++ret;
    slot_unlock(mm, index);
  }
  if (blk_idx) free_block_bdev(mm, z, blk_idx);
  return ret;
}

void zram_set_writeback_limit(mm::Mm& mm, uint64_t limit) {
  MODEL_FUNC("writeback_limit_store");
  Zram& z = device(mm);
  if (wb_limit_cleanup(mm)) {
    spin_lock(z.wb_limit_lock);
    z.bd_wb_limit = limit;
    spin_unlock(z.wb_limit_lock);
    return;
  }
  if (!mm.cfg.has(Fix::ZramWritebackThrottle))
    throw UsageError("zram: no writeback_limit before 5.0's bb416d18b850 (zram: writeback throttle)");
  sched(Op::AtomicRmw, Access::Write, wb_limit_obj(), here());  // atomic64_set
  z.bd_wb_limit = limit;
  if (limit != 0) return;  // only 0 ("no limit") lets a stopped writeback go on
  sched(Op::Write, Access::Write, wb_limit_obj(), here());
  z.stop_writeback = false;
}

void zram_set_writeback_limit_enable(mm::Mm& mm, bool enable) {
  MODEL_FUNC("writeback_limit_enable_store");
  Zram& z = device(mm);
  if (!wb_limit_cleanup(mm))
    throw UsageError("zram: no writeback_limit_enable before 5.0's 1d69a3f8ae77 (zram: idle "
                     "writeback fixes and cleanup)");
  spin_lock(z.wb_limit_lock);
  z.wb_limit_enable = enable;
  spin_unlock(z.wb_limit_lock);
}

void zram_discard(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_bio_discard");
  free_slot_notify(mm, index);
}

void zram_slot_free_notify(mm::Mm& mm, uint32_t index) {
  MODEL_FUNC("zram_slot_free_notify");
  if (!mm.cfg.has(Fix::ZramFreeNotifyTrylock)) return free_slot_notify(mm, index);
  // 3c9959e02547: the notify may come from softirq context, which must not spin on a slot
  // lock its CPU's task holds; a missed free leaves the slot until it is written again.
  Zram& z = device(mm);
  slot(mm, index);
  stat_update();
  z.stats.notify_free++;
  if (!slot_trylock(mm, index)) {
    stat_update();
    z.stats.miss_free++;
    return;
  }
  zram_free_page(mm, index);
  slot_unlock(mm, index);
}

std::vector<std::string> zram_check(const Drivers& d) {
  std::vector<std::string> out;
  const Zram& z = d.zram;
  if (!z.live) return out;
  uint64_t stored = 0, zero = 0, size = 0;
  const ZramBackingDev& b = z.bdev;
  const auto allocated = [&b](uint64_t block) { return (b.bitmap[block / 64] >> (block % 64)) & 1; };
  std::vector<bool> held(b.nr_pages);
  for (uint32_t i = 0; i < z.table.size(); ++i) {
    const ZramSlot& s = z.table[i];
    const auto at = [i] { return "zram slot " + std::to_string(i); };
    if ((s.value >> ZRAM_ACCESS) & 1) out.push_back(at() + ": still locked");
    if ((s.value >> ZRAM_WB) & 1) {
      ++stored;
      const uint64_t block = s.handle;
      if (block == 0 || block >= b.nr_pages || !allocated(block))
        out.push_back(at() + ": written back to block " + std::to_string(block) + ", which is not allocated");
      else if (held[block])
        out.push_back(at() + ": block " + std::to_string(block) + " is another slot's too");
      else {
        held[block] = true;
        if (b.blocks[block] != s.written)
          out.push_back(at() + ": block " + std::to_string(block) + " holds content " +
                        std::to_string(b.blocks[block]) + ", " + std::to_string(s.written) + " was written");
      }
      continue;
    }
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
  for (uint64_t block = 1; block < b.nr_pages; ++block)
    if (allocated(block) && !held[block])
      out.push_back("zram: block " + std::to_string(block) + " of the backing device is allocated, "
                    "but no slot holds it");
  if (stored != z.stats.pages_stored)
    out.push_back("zram: pages_stored " + std::to_string(z.stats.pages_stored) + " but " +
                  std::to_string(stored) + " slots hold a handle or a block");
  if (zero != z.stats.zero_pages)
    out.push_back("zram: zero_pages " + std::to_string(z.stats.zero_pages) + " but " + std::to_string(zero) +
                  " slots are ZRAM_ZERO");
  if (size != z.stats.compr_data_size)
    out.push_back("zram: compr_data_size " + std::to_string(z.stats.compr_data_size) + " but slots hold " +
                  std::to_string(size));
  return out;
}

}  // namespace pagesim::drivers
