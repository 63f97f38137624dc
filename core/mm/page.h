// struct page: one 64-byte record per pfn in a dense array, like the kernel's mem_map.
// Fields keep the kernel's names and meanings; pointers are ids (pfn, mapping id).
#pragma once
#include <cstdint>

#include "engine/objclass.h"
#include "engine/types.h"

namespace pagesim::mm {

using Pfn = uint32_t;
inline constexpr Pfn kNoPfn = 0xffffffffu;

// Page flags (include/linux/page-flags.h order). PG_isolated aliases PG_reclaim.
enum PageFlag : int {
  PG_locked,
  PG_error,
  PG_referenced,
  PG_uptodate,
  PG_dirty,
  PG_lru,
  PG_active,
  PG_slab,
  PG_owner_priv_1,  // zsmalloc: huge object page (SetPageHugeObject)
  PG_arch_1,
  PG_reserved,
  PG_private,       // zsmalloc: first page of a zspage
  PG_private_2,     // zsmalloc: last page of a zspage
  PG_writeback,
  PG_head,
  PG_swapcache,
  PG_mappedtodisk,
  PG_reclaim,
  PG_swapbacked,
  PG_unevictable,
  PG_mlocked,
  PG_balloon,       // 4.8 uses _mapcount for PageBalloon; a bit keeps the model simple
  PG_movable_v3,    // the v3 series' real PG_movable flag (preset movable-v3 only)
  PG_waiters,       // 62906027091f (4.10); the kernel's bit 7, kept last so 4.8's bits print as 4.8's
  NR_PAGEFLAGS,
  PG_isolated = PG_reclaim,
};
const char* page_flag_name(int bit);

// page->mapping low bits.
inline constexpr uint64_t PAGE_MAPPING_ANON = 0x1;
inline constexpr uint64_t PAGE_MAPPING_MOVABLE = 0x2;
inline constexpr uint64_t PAGE_MAPPING_KSM = PAGE_MAPPING_ANON | PAGE_MAPPING_MOVABLE;
inline constexpr uint64_t PAGE_MAPPING_FLAGS = PAGE_MAPPING_ANON | PAGE_MAPPING_MOVABLE;
// Mapping ids are shifted left so the two low bits stay free, like aligned pointers.
inline constexpr uint64_t mapping_value(uint32_t mapping_id) { return uint64_t(mapping_id) << 2; }
inline constexpr uint32_t mapping_id(uint64_t mapping) { return uint32_t(mapping >> 2); }

// _mapcount values that mark a page type (4.8: PageBuddy is a mapcount value).
inline constexpr int32_t PAGE_BUDDY_MAPCOUNT_VALUE = -128;
inline constexpr int32_t PAGE_MOVABLE_MAPCOUNT_VALUE = -255;  // v3 series only

// page->lru: list membership by pfn links. `list` is the id of the list the page is on
// (kNoList when not on a list, kPoisonList after list_del: LIST_POISON).
inline constexpr uint32_t kNoList = 0xffffffffu;
inline constexpr uint32_t kPoisonList = 0xfffffffeu;

// Who owns a page that is not free, for leak accounting at teardown.
enum class Owner : uint8_t { None, Reserved, Process, Zsmalloc, Balloon, TestDriver, Migration, Kernel, Z3fold };

struct Page {
  uint64_t flags = 0;        // PG_* bits
  int32_t refcount = 0;      // _refcount
  int32_t mapcount = -1;     // _mapcount
  uint64_t mapping = 0;      // mapping_value(id) | PAGE_MAPPING_* bits
  uint64_t private_ = 0;     // page_private(): buddy order, zspage id
  uint64_t index = 0;        // index, or zsmalloc's freelist (next page / handle)
  Pfn lru_prev = kNoPfn;     // page->lru
  Pfn lru_next = kNoPfn;
  uint32_t list = kNoList;   // which PageList the lru links belong to
  uint32_t content = 0;      // content token: migration copies it, corruption is detected
  Owner owner = Owner::None;
  uint8_t order = 0;         // model bookkeeping: the order of the block this page heads
                             // since alloc_pages (leak checks need the block's extent)
  uint8_t pad_[6] = {};
};
static_assert(sizeof(Page) <= 64, "the model's struct page must fit the kernel's 64 bytes");

inline ObjId page_obj(Pfn pfn) { return make_obj(objclass::kPage, pfn); }

}  // namespace pagesim::mm
