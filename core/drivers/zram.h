// zram (drivers/block/zram/zram_drv.c, Linux 4.8): a compressed block device over one
// zsmalloc pool, enough of it to drive memory pressure, fragmentation and the
// zs_free-from-atomic-context path (swap_slot_free_notify under the swap_info lock).
// From 4.14 (db8ffbd4e763) an incompressible page may go to a backing device instead
// (CONFIG_ZRAM_WRITEBACK; from 5.0, a939888ec38b, when writeback_store asks): its slot is
// ZRAM_WB and holds the block, which a swap-in's bio completion frees from softirq
// context (drivers/swap.h).
// The model does not compress: a write gives the compressed size and a content token;
// token 0 stands for a zero-filled page (ZRAM_ZERO, nothing allocated).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/sync.h"
#include "mm/mm.h"

namespace pagesim::drivers {

class Drivers;

namespace zramobj {
inline constexpr uint8_t kSlot = objclass::kZramBase + 0;      // meta->table[index].value (ZRAM_ACCESS)
inline constexpr uint8_t kSwapLock = objclass::kZramBase + 1;  // the swap_info lock of the caller
// zram->stats (0), the stream lock (1), wb_limit_lock (2), the writeback limit's fields (3)
inline constexpr uint8_t kDevice = objclass::kZramBase + 2;
inline constexpr uint8_t kBackingDev = objclass::kZramBase + 3; // see zram_bitmap_obj
}  // namespace zramobj
inline ObjId zram_slot_obj(uint32_t index) { return make_obj(zramobj::kSlot, index); }
// The backing device: its bitmap_lock, its blocks' data, and word w of its bitmap.
inline ObjId zram_bitmap_lock_obj() { return make_obj(zramobj::kBackingDev, 0); }
inline ObjId zram_blocks_obj() { return make_obj(zramobj::kBackingDev, 1); }
inline ObjId zram_bitmap_obj(uint32_t word) { return make_obj(zramobj::kBackingDev, 2 + uint64_t(word)); }

// zram_table_entry.value: the object size in the low ZRAM_FLAG_SHIFT bits, then flags.
inline constexpr int ZRAM_FLAG_SHIFT = 24;
inline constexpr int ZRAM_ZERO = ZRAM_FLAG_SHIFT;   // a zero-filled page, no handle
inline constexpr int ZRAM_ACCESS = ZRAM_FLAG_SHIFT + 1;  // the slot's bit spinlock
inline constexpr int ZRAM_WB = ZRAM_FLAG_SHIFT + 2;      // 4.14: the page is on the backing device
inline constexpr int ZRAM_UNDER_WB = ZRAM_FLAG_SHIFT + 3;  // 5.0: writeback_store is writing it
inline constexpr int ZRAM_IDLE = ZRAM_FLAG_SHIFT + 4;      // 5.0 (e82592c4fd7e): not accessed since marked
inline constexpr uint32_t zram_max_zpage_size = 4096 / 4 * 3;  // until 4.17 (drop-max-zpage-size)

struct ZramSlot {
  uint64_t handle = 0;   // a union with element: a ZRAM_WB slot's block on the backing device
  uint64_t value = 0;    // size | flags
  uint32_t written = 0;  // model: the content token the slot must read back
};

struct ZramStats {
  uint64_t compr_data_size = 0;
  uint64_t pages_stored = 0;
  uint64_t zero_pages = 0;
  uint64_t notify_free = 0;
  uint64_t failed_writes = 0;
  uint64_t writestall = 0;
  uint64_t failed_reads = 0;
  uint64_t miss_free = 0;  // 3c9959e02547: zram_slot_free_notify found the slot locked
  uint64_t bd_count = 0, bd_reads = 0, bd_writes = 0;  // 23eddf39b2c2 (bd_stat)
};

// The backing device of CONFIG_ZRAM_WRITEBACK (backing_dev_store): `nr_pages` blocks, a
// bitmap of those in use (block 0 never is: a zero element would read as no handle).
struct ZramBackingDev {
  uint32_t nr_pages = 0;           // 0: no backing device
  std::vector<uint64_t> bitmap;    // zram->bitmap
  std::vector<uint32_t> blocks;    // model: the content token each block holds
  SpinLock bitmap_lock;            // before 3c9959e02547
};

struct Zram {
  bool live = false;
  uint32_t pool = 0;               // meta->mem_pool
  std::vector<ZramSlot> table;     // meta->table, disksize / PAGE_SIZE slots
  SpinLock swap_lock;              // swap_info_struct->lock of the swap device on top
  Mutex strm_lock;                 // before da9556a2367c (4.7): the one stream's zcomp_strm_single
  ZramStats stats;
  ZramBackingDev bdev;
  // writeback_limit in 4K units: bb416d18b850's stats.bd_wb_limit (an atomic) and
  // stop_writeback; from 1d69a3f8ae77 bd_wb_limit and wb_limit_enable, under wb_limit_lock.
  uint64_t bd_wb_limit = 0;
  bool stop_writeback = false;
  bool wb_limit_enable = false;
  SpinLock wb_limit_lock;
};

// backing_dev_store before disksize_store: a backing device of `blocks` blocks (4.14+).
void zram_set_backing_dev(mm::Mm& mm, uint32_t blocks);

// zram_add + disksize_store: a device of `slots` pages over a new zsmalloc pool.
void zram_create(mm::Mm& mm, uint32_t slots);
// zram_bvec_write: 0, 1 when the page went to the backing device (the kernel's
// asynchronous IO), or -ENOMEM when zs_malloc fails on both paths.
int zram_bvec_write(mm::Mm& mm, uint32_t index, uint32_t clen, uint32_t content);
// zram_bvec_read: the content token (0 for an empty or zero slot). Data that differs from
// what was written is reported as a corruption outcome.
uint32_t zram_bvec_read(mm::Mm& mm, uint32_t index);
// zram_bvec_rw: one page's I/O, a read (the content token) or a write (zram_bvec_write's
// result); since e82592c4fd7e (5.0) it ends with zram_accessed under the slot lock.
int64_t zram_bvec_rw(mm::Mm& mm, uint32_t index, bool write, uint32_t clen = 0, uint32_t content = 0);
// writeback_limit_store (bb416d18b850): the budget, in 4K pages; writeback_limit_enable_store
// (1d69a3f8ae77).
void zram_set_writeback_limit(mm::Mm& mm, uint64_t limit);
void zram_set_writeback_limit_enable(mm::Mm& mm, bool enable);
// idle_store("all") (e82592c4fd7e): every allocated slot not under writeback is ZRAM_IDLE.
void zram_mark_idle(mm::Mm& mm);
// zram_bio_discard of one page.
void zram_discard(mm::Mm& mm, uint32_t index);
// writeback_store, 5.0 (a939888ec38b): each huge slot ("huge"), or each ZRAM_IDLE slot
// ("idle"), to a block of the backing device. Returns the slots written back, -ENOSPC
// when the device filled first, or -ENODEV without a backing device.
int zram_writeback(mm::Mm& mm, bool idle);
// zram_slot_free_notify: swap frees the slot (drivers/swap.h calls it).
void zram_slot_free_notify(mm::Mm& mm, uint32_t index);
void zram_free_page(mm::Mm& mm, uint32_t index);

// Invariants: every stored slot's handle is a live handle of the pool holding what was
// written; stats match the table.
std::vector<std::string> zram_check(const Drivers& d);

}  // namespace pagesim::drivers
