#include "mm/page_ops.h"

#include <cstdio>

#include "mm/lru.h"
#include "mm/page_alloc.h"

namespace pagesim::mm {

const char* page_flag_name(int bit) {
  static const char* const names[] = {
      "locked",    "error",       "referenced",    "uptodate", "dirty",       "lru",
      "active",    "slab",        "owner_priv_1",  "arch_1",   "reserved",    "private",
      "private_2", "writeback",   "head",          "swapcache", "mappedtodisk", "reclaim",
      "swapbacked", "unevictable", "mlocked",      "balloon",  "movable",     "waiters"};
  static_assert(sizeof(names) / sizeof(names[0]) == NR_PAGEFLAGS);
  return bit >= 0 && bit < NR_PAGEFLAGS ? names[bit] : "?";
}

// The model keeps v3's PG_movable as a bit of its own and PG_isolated on PG_reclaim (4.8);
// v3 aliased them to PG_reclaim and PG_owner_priv_1, and the kernel prints a flag by its bit.
const char* page_flag_name(const MmConfig& cfg, int bit) {
  if (!cfg.has(Fix::MovableMappingBit)) {
    if (bit == PG_movable_v3) return page_flag_name(PG_reclaim);
    if (bit == PG_isolated) return page_flag_name(PG_owner_priv_1);
  }
  return page_flag_name(bit);
}

std::string page_flags_str(const MmConfig& cfg, uint64_t flags) {
  std::string s;
  for (int b = 0; b < NR_PAGEFLAGS; ++b)
    if ((flags >> b) & 1) s += (s.empty() ? "" : "|") + std::string(page_flag_name(cfg, b));
  return s;
}

bool page_is_movable(const MmConfig& cfg, const Page& p) {
  if (!cfg.has(Fix::MovableMappingBit))
    return ((p.flags >> PG_movable_v3) & 1) && p.mapcount == PAGE_MOVABLE_MAPCOUNT_VALUE;
  return (p.mapping & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE;
}

std::string dump_page(const Mm& mm, Pfn pfn, const std::string& reason) {
  if (!mm.valid_pfn(pfn)) return "page: pfn " + std::to_string(pfn) + " out of range";
  const Page& p = mm.page(pfn);
  char buf[256];
  const uint32_t m = mapping_id(p.mapping);
  std::string mapping = m && m < mm.mappings.size() ? mm.mappings[m].name
                        : m ? "?" : "(null)";
  if (p.mapping & PAGE_MAPPING_FLAGS)
    mapping += (p.mapping & PAGE_MAPPING_ANON) ? "|anon" : "|movable";
  std::snprintf(buf, sizeof buf, "page:pfn %#x count:%d mapcount:%d mapping:%s index:%#llx",
                pfn, p.refcount, p.mapcount + 1, mapping.c_str(), (unsigned long long)p.index);
  std::string s = buf;
  std::snprintf(buf, sizeof buf, "\nflags: %#llx(%s)", (unsigned long long)p.flags,
                page_flags_str(mm.cfg, p.flags).c_str());
  s += buf;
  if (!reason.empty()) s += "\npage dumped because: " + reason;
  return s;
}

void bug_on_page(const Mm& mm, Pfn pfn, const char* function, uint32_t site,
                 std::vector<std::string> more) {
  more.insert(more.begin(), dump_page(mm, pfn, bug_site(site).text));
  BUG(function, site, std::move(more));
}

void null_deref(const char* what, uint64_t address) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)address);
  OOPS(std::string("unable to handle kernel NULL pointer dereference at ") + buf,
       {std::string("(") + what + ")"});
}

// ---- reference count ----

int page_count(const Mm& mm, Pfn pfn, uint32_t line) {
  return atomic_read(mm.page(pfn).refcount, page_obj(pfn), line);
}

void get_page(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("get_page");
  const int v = atomic_add_return(1, mm.page(pfn).refcount, page_obj(pfn), line);
  VM_BUG_ON_PAGE(mm, v <= 1, pfn, "page_ref_count(page) <= 0");  // v is the count after
}

void put_page(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("put_page");
  const int v = atomic_add_return(-1, mm.page(pfn).refcount, page_obj(pfn), line);
  if (v == 0) {
    // __put_single_page -> __page_cache_release: the last reference takes an LRU page
    // off its LRU list before the page is freed.
    if (mm.page(pfn).flags & (1ull << PG_lru)) {
      Zone& z = mm.zone_of(pfn);
      spin_lock_irqsave(z.lru_lock);
      ClearPageFlag(mm, pfn, PG_lru);
      del_page_from_lru_list(mm, pfn);
      spin_unlock_irqrestore(z.lru_lock);
    }
    return free_pages_zero_ref(mm, pfn, 0);
  }
  if (mm.cfg.debug_vm && v < 0)  // v is the count after
    bug_on_page(mm, pfn, REPORT_FUNC_HERE(),
                BUG_SITE_IN("put_page_testzero", "VM_BUG_ON_PAGE(page_ref_count(page) == 0)"));
}

bool get_page_unless_zero(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("get_page_unless_zero");
  return atomic_add_unless(mm.page(pfn).refcount, 1, 0, page_obj(pfn), line);
}

// ---- page lock ----

namespace {
// __SetPageIsolated / __ClearPageIsolated: `page->flags |= bit` or `&= ~bit`; only its
// read-modify-write can lose another CPU's update (of PG_waiters, since 62906027091f).
void isolated_nonatomic(Mm& mm, Pfn pfn, bool set, uint32_t line) {
  uint64_t& flags = mm.page(pfn).flags;
  if (mm.cfg.has(Fix::PageWaiters) && !mm.cfg.has(Fix::AtomicPageIsolated))
    return set ? __set_bit(PG_isolated, flags, page_obj(pfn), line)
               : __clear_bit(PG_isolated, flags, page_obj(pfn), line);
  if (set)
    set_bit(PG_isolated, flags, page_obj(pfn), line);
  else
    clear_bit(PG_isolated, flags, page_obj(pfn), line);
}

// wait_on_page_bit_common (4.10): queue on the page's wait queue and set PG_waiters, then
// sleep while the bit is set; a lock waiter takes the lock when it finds it free.
void wait_on_page_bit_common(Mm& mm, Pfn pfn, int bit_nr, bool lock, uint32_t line) {
  uint64_t& flags = mm.page(pfn).flags;
  const ObjId obj = page_obj(pfn);
  for (;;) {
    set_bit(PG_waiters, flags, obj, line);  // SetPageWaiters(page), under the queue's lock
    if (test_bit(bit_nr, flags, obj, line)) sleep_on({obj, "page lock"});  // io_schedule()
    if (lock ? bit_trylock(bit_nr, flags, obj, BitLockKind::Sleep, line) : !test_bit(bit_nr, flags, obj, line))
      return;
  }
}
}  // namespace

void __SetPageIsolated(Mm& mm, Pfn p, uint32_t l) { isolated_nonatomic(mm, p, true, l); }
void __ClearPageIsolated(Mm& mm, Pfn p, uint32_t l) { isolated_nonatomic(mm, p, false, l); }

void lock_page(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("lock_page");
  Sim* s = Sim::current();
  // Set-up code has no task to sleep: bit_lock refuses contention there.
  if (!mm.cfg.has(Fix::PageWaiters) || !s || !s->current_task())
    return bit_lock(PG_locked, mm.page(pfn).flags, page_obj(pfn), BitLockKind::Sleep, "page lock", line);
  // trylock_page, then __lock_page.
  s->might_sleep("page lock", page_obj(pfn));
  if (bit_trylock(PG_locked, mm.page(pfn).flags, page_obj(pfn), BitLockKind::Sleep, line)) return;
  wait_on_page_bit_common(mm, pfn, PG_locked, true, line);
}

bool trylock_page(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("trylock_page");
  return bit_trylock(PG_locked, mm.page(pfn).flags, page_obj(pfn), BitLockKind::Sleep, line);
}

void unlock_page(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("unlock_page");
  VM_BUG_ON_PAGE(mm, !(mm.page(pfn).flags & (1ull << PG_locked)), pfn, "!PageLocked(page)");
  if (!mm.cfg.has(Fix::PageWaiters))
    return bit_unlock(PG_locked, mm.page(pfn).flags, page_obj(pfn), BitLockKind::Sleep, line);
  // clear_bit_unlock_is_negative_byte: the unlock and a look at PG_waiters in one
  // operation; wake_up_page_bit only if it was set. The model wakes every waiter, which
  // leaves the queue empty and PG_waiters clear; one that has to sleep again sets it again.
  uint64_t& flags = mm.page(pfn).flags;
  const bool waiters = bit_unlock_quiet(PG_locked, flags, page_obj(pfn), line) & (1ull << PG_waiters);
  if (waiters) {
    flags &= ~(1ull << PG_waiters);  // ClearPageWaiters: the queue is empty once all are woken
    wake_up(page_obj(pfn));
  } else {
    wake_up_pollers(page_obj(pfn));  // a loop that trylocks the page looks again
  }
}

void wait_on_page_locked(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("wait_on_page_locked");
  if (!PageLocked(mm, pfn, line)) return;
  if (mm.cfg.has(Fix::PageWaiters)) return wait_on_page_bit_common(mm, pfn, PG_locked, false, line);
  while (PageLocked(mm, pfn, line)) sleep_on({page_obj(pfn), "page lock"});
}

void wait_on_page_writeback(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("wait_on_page_writeback");
  while (PageWriteback(mm, pfn, line)) sleep_on({page_obj(pfn), "page writeback"});
}

// ---- mapping ----

uint64_t read_mapping(const Mm& mm, Pfn pfn, uint32_t line) {
  sched(Op::Read, Access::Read, page_obj(pfn), line);
  return mm.page(pfn).mapping;
}

void write_mapping(Mm& mm, Pfn pfn, uint64_t value, uint32_t line) {
  sched(Op::Write, Access::Write, page_obj(pfn), line);
  mm.page(pfn).mapping = value;
}

bool PageAnon(const Mm& mm, Pfn pfn, uint32_t line) {
  return (read_mapping(mm, pfn, line) & PAGE_MAPPING_ANON) != 0;
}

bool PageMappingFlags(const Mm& mm, Pfn pfn, uint32_t line) {
  return (read_mapping(mm, pfn, line) & PAGE_MAPPING_FLAGS) != 0;
}

uint32_t page_mapping(const Mm& mm, Pfn pfn, uint32_t line) {
  const uint64_t m = read_mapping(mm, pfn, line);
  if (m & PAGE_MAPPING_ANON) return 0;
  return mapping_id(m & ~PAGE_MAPPING_FLAGS);
}

// ---- movable ----

bool __PageMovable(const Mm& mm, Pfn pfn, uint32_t line) {
  if (!mm.cfg.has(Fix::MovableMappingBit)) {
    // v3: PageMovable(page) tested the flag and the mapcount marker, without a lock.
    return PageFlag(mm, pfn, PG_movable_v3, line) &&
           atomic_read(mm.page(pfn).mapcount, page_obj(pfn), line) == PAGE_MOVABLE_MAPCOUNT_VALUE;
  }
  return (read_mapping(mm, pfn, line) & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE;
}

bool PageMovable(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("PageMovable");
  if (!mm.cfg.has(Fix::MovableMappingBit)) return __PageMovable(mm, pfn, line);
  VM_BUG_ON_PAGE(mm, !(mm.page(pfn).flags & (1ull << PG_locked)), pfn, "!PageLocked(page)");
  if (!__PageMovable(mm, pfn, line)) return false;
  const uint32_t mapping = page_mapping(mm, pfn, line);
  if (!mapping || mapping >= mm.mappings.size()) return false;
  const AddressSpaceOps* ops = mm.deref_mapping(mapping).a_ops;
  return ops && ops->isolate_page;
}

void __SetPageMovable(Mm& mm, Pfn pfn, uint32_t mapping, uint32_t line) {
  MODEL_FUNC("__SetPageMovable");
  if (!mm.cfg.has(Fix::MovableMappingBit)) {
    // v3 ("Caller should hold a PG_lock", not checked): the mapping, then a non-atomic
    // __set_bit(PG_movable), then _mapcount = -255.
    write_mapping(mm, pfn, mapping_value(mapping), line);
    __set_bit(PG_movable_v3, mm.page(pfn).flags, page_obj(pfn), line);
    sched(Op::Write, Access::Write, page_obj(pfn), line);
    mm.page(pfn).mapcount = PAGE_MOVABLE_MAPCOUNT_VALUE;
    return;
  }
  VM_BUG_ON_PAGE(mm, !(mm.page(pfn).flags & (1ull << PG_locked)), pfn, "!PageLocked(page)");
  VM_BUG_ON_PAGE(mm, (mapping_value(mapping) & PAGE_MAPPING_MOVABLE) != 0, pfn,
                 "(unsigned long)mapping & PAGE_MAPPING_MOVABLE");
  write_mapping(mm, pfn, mapping_value(mapping) | PAGE_MAPPING_MOVABLE, line);
}

void __ClearPageMovable(Mm& mm, Pfn pfn, uint32_t line) {
  MODEL_FUNC("__ClearPageMovable");
  if (!mm.cfg.has(Fix::MovableMappingBit)) {
    // v3: _mapcount back to -1, a non-atomic __clear_bit(PG_movable) (it can undo another
    // CPU's trylock_page of the same word), then mapping NULL. No lock is asserted.
    sched(Op::Write, Access::Write, page_obj(pfn), line);
    mm.page(pfn).mapcount = -1;
    __clear_bit(PG_movable_v3, mm.page(pfn).flags, page_obj(pfn), line);
    return write_mapping(mm, pfn, 0, line);
  }
  VM_BUG_ON_PAGE(mm, !(mm.page(pfn).flags & (1ull << PG_locked)), pfn, "!PageLocked(page)");
  VM_BUG_ON_PAGE(mm, !PageMovable(mm, pfn, line), pfn, "!PageMovable(page)");
  // Keep PAGE_MAPPING_MOVABLE so the VM can tell the driver released the page after
  // isolation: __PageMovable stays true, PageMovable becomes false.
  write_mapping(mm, pfn, mm.page(pfn).mapping & PAGE_MAPPING_MOVABLE, line);
}

}  // namespace pagesim::mm
