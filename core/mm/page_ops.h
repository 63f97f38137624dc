// struct page helpers (include/linux/page-flags.h, page_ref.h, pagemap.h, mm.h and the
// movable helpers of mm/compaction.c). Every access to a page is a scheduling point on
// the page's object, so any interleaving of two CPUs on one page is reachable.
#pragma once
#include <string>

#include "engine/sync.h"
#include "mm/mm.h"

namespace pagesim::mm {

// ---- flags ----
inline bool PageFlag(const Mm& mm, Pfn pfn, int bit, uint32_t line = here()) {
  return test_bit(bit, mm.page(pfn).flags, page_obj(pfn), line);
}
inline void SetPageFlag(Mm& mm, Pfn pfn, int bit, uint32_t line = here()) {
  set_bit(bit, mm.page(pfn).flags, page_obj(pfn), line);
}
inline void ClearPageFlag(Mm& mm, Pfn pfn, int bit, uint32_t line = here()) {
  clear_bit(bit, mm.page(pfn).flags, page_obj(pfn), line);
}

inline bool PageLocked(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_locked, l); }
inline bool PageLRU(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_lru, l); }
inline bool PageActive(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_active, l); }
inline bool PagePrivate(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_private, l); }
inline bool PageWriteback(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_writeback, l); }
inline bool PageCompound(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_head, l); }
inline bool PageBalloon(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_balloon, l); }
inline bool PageUnevictable(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_unevictable, l); }
// TestClearPageLRU (d25b5bd8a8f4, 5.11): clears PG_lru and says whether it was set; of
// the isolations racing for a page, only one sees it set.
inline bool TestClearPageLRU(Mm& mm, Pfn p, uint32_t l = here()) {
  return test_and_clear_bit(PG_lru, mm.page(p).flags, page_obj(p), l);
}

// PG_isolated (= PG_reclaim): __PAGEFLAG, non-atomic, used under the page lock (an atomic
// PAGEFLAG since 356ea3865687). A non-atomic update is a load and a store of page->flags:
// since 62906027091f a lock_page waiter sets PG_waiters in that word without the lock, so
// there it is a read point and a write point, and the store can drop the waiter's bit.
inline bool PageIsolated(Mm& mm, Pfn p, uint32_t l = here()) { return PageFlag(mm, p, PG_isolated, l); }
void __SetPageIsolated(Mm& mm, Pfn p, uint32_t l = here());
void __ClearPageIsolated(Mm& mm, Pfn p, uint32_t l = here());

// ---- reference count (page_ref.h) ----
int page_count(const Mm& mm, Pfn pfn, uint32_t line = here());
void get_page(Mm& mm, Pfn pfn, uint32_t line = here());
// Drops a reference; the last one frees the page (order 0) to the buddy allocator.
void put_page(Mm& mm, Pfn pfn, uint32_t line = here());
// get_page_unless_zero: fails if the page is being freed (refcount 0).
bool get_page_unless_zero(Mm& mm, Pfn pfn, uint32_t line = here());

// ---- the page lock: PG_locked with a wait queue (pagemap.h) ----
void lock_page(Mm& mm, Pfn pfn, uint32_t line = here());
bool trylock_page(Mm& mm, Pfn pfn, uint32_t line = here());
void unlock_page(Mm& mm, Pfn pfn, uint32_t line = here());
// wait_on_page_locked: sleeps until PG_locked is clear, without taking the lock.
void wait_on_page_locked(Mm& mm, Pfn pfn, uint32_t line = here());
// wait_on_page_writeback: sleeps until PG_writeback is clear (end_page_writeback wakes
// the page's waiters; the model has no block I/O, so nothing sets the bit yet).
void wait_on_page_writeback(Mm& mm, Pfn pfn, uint32_t line = here());

// ---- page->mapping ----
uint64_t read_mapping(const Mm& mm, Pfn pfn, uint32_t line = here());
void write_mapping(Mm& mm, Pfn pfn, uint64_t value, uint32_t line = here());
bool PageAnon(const Mm& mm, Pfn pfn, uint32_t line = here());
bool PageMappingFlags(const Mm& mm, Pfn pfn, uint32_t line = here());
// page_mapping(): the address_space id, 0 for NULL (anon pages report their
// swap mapping in the kernel; the model has none).
uint32_t page_mapping(const Mm& mm, Pfn pfn, uint32_t line = here());

// ---- non-LRU movable pages ----
// With Fix::MovableMappingBit (v4.8): PG_movable is mapping bit 0x2. Without it (the v3
// series): a real flag plus _mapcount == PAGE_MOVABLE_MAPCOUNT_VALUE.
bool __PageMovable(const Mm& mm, Pfn pfn, uint32_t line = here());
bool PageMovable(Mm& mm, Pfn pfn, uint32_t line = here());
void __SetPageMovable(Mm& mm, Pfn pfn, uint32_t mapping, uint32_t line = here());
void __ClearPageMovable(Mm& mm, Pfn pfn, uint32_t line = here());

// dump_page(): "page:00000000000001a4 count:2 mapcount:0 mapping:zsmalloc index:0x0
// flags: 0x...(locked|reclaim)".
std::string dump_page(const Mm& mm, Pfn pfn, const std::string& reason = "");
std::string page_flags_str(const MmConfig& cfg, uint64_t flags);
// The preset's own flag names (v3 aliased PG_movable and PG_isolated to other bits).
const char* page_flag_name(const MmConfig& cfg, int bit);
// __PageMovable without a scheduling point, for views and checks.
bool page_is_movable(const MmConfig& cfg, const Page& p);

// VM_BUG_ON_PAGE(cond, page): a BUG with dump_page when CONFIG_DEBUG_VM is set; without
// it the code goes on, as the kernel's would. The report quotes the kernel's text of the
// condition: the model's C++ with `mm` dropped, or the optional last argument where the
// model's condition reads otherwise (VM_BUG_ON_PAGE(mm, !(flags & ...), page, "!PageLocked(page)")).
#define VM_BUG_ON_PAGE(mm, cond, pfn, ...)                                                \
  do {                                                                                    \
    if ((mm).cfg.debug_vm && (cond))                                                      \
      ::pagesim::mm::bug_on_page(                                                         \
          (mm), (pfn), REPORT_FUNC_HERE(),                                                \
          BUG_SITE("VM_BUG_ON_PAGE(" PAGESIM_FIRST_OR(#cond, __VA_ARGS__) ")"));          \
  } while (0)
#define VM_BUG_ON(mm, cond, ...)                                                          \
  do {                                                                                    \
    if ((mm).cfg.debug_vm && (cond))                                                      \
      ::pagesim::BUG(REPORT_FUNC_HERE(),                                                  \
                     BUG_SITE("VM_BUG_ON(" PAGESIM_FIRST_OR(#cond, __VA_ARGS__) ")"));    \
  } while (0)
// WARN_ON_ONCE: reported once per run and call site is not tracked; each hit reports.
// `what` says what it means.
#define WARN_ON_ONCE(cond, what)                                                          \
  ((cond) ? (::pagesim::WARN(REPORT_FUNC_HERE(), BUG_SITE("WARN_ON_ONCE(" #cond ")"), {what}), \
             true)                                                                        \
          : false)
// BUG at `site` with dump_page(page, <the site's text>), as VM_BUG_ON_PAGE does, then
// `more` lines of the model's own.
[[noreturn]] void bug_on_page(const Mm& mm, Pfn pfn, const char* function, uint32_t site,
                              std::vector<std::string> more = {});

// Raises the oops a NULL (or poisoned) pointer dereference would: used where the kernel
// follows a pointer the model holds as an id.
[[noreturn]] void null_deref(const char* what, uint64_t address = 0);

}  // namespace pagesim::mm
