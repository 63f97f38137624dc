#include "drivers/z3fold.h"
#include "drivers/z3fold_internal.h"

#include <algorithm>

#include "drivers/drivers.h"
#include "mm/list.h"
#include "mm/page_ops.h"

namespace pagesim::drivers {

using namespace pagesim::mm;
using namespace pagesim::drivers::z3;

namespace z3fold_impl {

Z3fold& Z(Mm& mm) { return drivers_of(mm).z3fold; }

// zhdr->pool dereferenced: KASAN checks the pool is live.
Z3foldPool& pool_of(Mm& mm, uint32_t pool) {
  Z3foldPool& p = Z(mm).pools.at(pool);
  kasan_check(p.life, "struct z3fold_pool", p.name + " " + std::to_string(pool));
  return p;
}

ObjId pool_obj(uint32_t pool, uint32_t part) { return make_obj(z3obj::kPool, uint64_t(pool) << 2 | part); }
ObjId lists_obj(uint32_t pool) { return pool_obj(pool, 2); }  // the unbuddied lists and stale
ObjId zswap_tree_obj() { return make_obj(z3obj::kPool, (uint64_t(0xffffff) << 2) | 3); }  // zswap's tree->lock

bool has(const Mm& mm, Fix f) { return mm.cfg.has(f); }
// d30561c56f41 (4.14): per-CPU unbuddied lists and the workqueues; before, z3fold_4_8.cpp.
bool per_cpu_lists(const Mm& mm) { return has(mm, Fix::Z3foldPerCpuLists); }
// ca0246bb97c2 (4.20): PAGE_CLAIMED, where 4.19 had UNDER_RECLAIM (the same bit).
bool reclaim_races(const Mm& mm) { return has(mm, Fix::Z3foldReclaimRaces); }
// 7c2b8baa61fe (5.2): a handle is the address of a slot; before, the header's address plus
// the buddy's index (and from ca0246bb97c2 a LAST object's size).
bool slots_on(const Mm& mm) { return has(mm, Fix::Z3foldBuddySlots); }
// 1f862989b04a (5.2): the pages with a header are movable.
bool movable(const Mm& mm) { return has(mm, Fix::Z3foldMigration); }
// 4a3ac9311dac (5.5): the slots' rwlock, get_z3fold_header and inter-page compaction.
bool inter_page(const Mm& mm) { return has(mm, Fix::Z3foldInterPageCompaction); }

std::string pfn_name(Pfn pfn) { return "pfn " + std::to_string(pfn); }

// smp_processor_id(): the CPU the running task is on (set-up code: CPU 0).
uint32_t smp_processor_id() {
  Sim* s = Sim::current();
  Task* t = s ? s->current_task() : nullptr;
  return t ? t->phys : 0;
}

// ---- the page's memory ----

Z3foldPageMem& page_mem(Mm& mm, Pfn pfn) {
  if (!static_cast<const Mm&>(mm).valid_pfn(pfn)) null_deref("z3fold page memory (no such page)", uint64_t(pfn) << PAGE_SHIFT);
  Z3fold& z = Z(mm);
  if (z.mem_of.size() <= pfn) z.mem_of.resize(size_t(pfn) + 1, 0);
  if (!z.mem_of[pfn]) {
    z.mem.emplace_back();
    z.mem_of[pfn] = uint32_t(z.mem.size());
  }
  return z.mem[z.mem_of[pfn] - 1];
}

const Z3foldPageMem* page_mem_if(const Mm& mm, Pfn pfn) {
  const Z3fold& z = drivers_of(mm).z3fold;
  return pfn < z.mem_of.size() && z.mem_of[pfn] ? &z.mem[z.mem_of[pfn] - 1] : nullptr;
}

// The page's memory through its header, with KASAN's check that the page was not freed
// under us.
Z3foldPageMem& checked_mem(Mm& mm, Pfn zhdr, bool write, const char* what = "struct z3fold_header") {
  Z3foldPageMem& m = page_mem(mm, zhdr);
  kasan_check(m.life, what, pfn_name(zhdr), write);
  return m;
}

// An access to the header (zhdr->field): a scheduling point on it, then the check.
Z3foldHeader& H(Mm& mm, Pfn zhdr, Op op, uint32_t line) {
  const bool write = op != Op::Read;
  sched(op, write ? Access::Write : Access::Read, z3fold_header_obj(zhdr), line);
  return checked_mem(mm, zhdr, write).hdr;
}
Z3foldHeader& Hr(Mm& mm, Pfn zhdr, uint32_t line) { return H(mm, zhdr, Op::Read, line); }
Z3foldHeader& Hw(Mm& mm, Pfn zhdr, uint32_t line) { return H(mm, zhdr, Op::Write, line); }
uint32_t zhdr_chunks(const Mm& mm) { return per_cpu_lists(mm) ? ZHDR_CHUNKS : 1; }
uint32_t buddy_mask(const Mm& mm) {
  return per_cpu_lists(mm) || has(mm, Fix::Z3foldFirstNumLimit) ? BUDDY_MASK : (1u << NCHUNKS_ORDER) - 1;
}

// page->private's z3fold bits (atomic bit operations on the struct page). A racing path's
// look at a page z3fold freed finds what z3fold left there (z3fold_page_freed), as on the
// kernel's per-cpu list, not the model's buddy order; its writes stay there too.
uint64_t& priv(Mm& mm, Pfn page) {
  const Page& pg = static_cast<const Mm&>(mm).page(page);
  if (pg.owner == Owner::None)
    if (const Z3foldPageMem* m = page_mem_if(mm, page); m && m->life.freed) return page_mem(mm, page).private_at_free;
  return mm.page(page).private_;
}
// The bit operations of engine/sync.h, with the word chosen after the scheduling point (the
// page may be freed at it).
bool test_priv(Mm& mm, int nr, Pfn page, uint32_t line) {
  sched_bit(Op::BitTest, Access::Read, page_obj(page), line, nr);
  return (priv(mm, page) >> nr) & 1;
}
void set_priv(Mm& mm, int nr, Pfn page, uint32_t line) {
  sched_bit(Op::BitSet, Access::Write, page_obj(page), line, nr);
  priv(mm, page) |= uint64_t(1) << nr;
}
bool test_and_clear_priv(Mm& mm, int nr, Pfn page, uint32_t line) {
  sched_bit(Op::BitClear, Access::Write, page_obj(page), line, nr);
  uint64_t& w = priv(mm, page);
  const bool old = (w >> nr) & 1;
  w &= ~(uint64_t(1) << nr);
  return old;
}
void clear_priv(Mm& mm, int nr, Pfn page, uint32_t line) { test_and_clear_priv(mm, nr, page, line); }
bool test_and_set_priv(Mm& mm, int nr, Pfn page, uint32_t line = here()) {
  sched_bit(Op::TestAndSet, Access::Write, page_obj(page), line, nr);
  uint64_t& w = priv(mm, page);
  const bool old = (w >> nr) & 1;
  w |= uint64_t(1) << nr;
  return old;
}
void write_priv(Mm& mm, Pfn page, uint64_t v, uint32_t line = here()) {
  sched(Op::Write, Access::Write, page_obj(page), line);
  priv(mm, page) = v;
}

// ---- locks ----

// zhdr->page_lock: its atomics are KASAN-checked writes.
SpinLock& page_lock(Mm& mm, Pfn zhdr) { return checked_mem(mm, zhdr, true).hdr.page_lock; }
void z3fold_page_lock(Mm& mm, Pfn zhdr, uint32_t line) { spin_lock(page_lock(mm, zhdr), line); }
bool z3fold_page_trylock(Mm& mm, Pfn zhdr, uint32_t line) {
  return spin_trylock(page_lock(mm, zhdr), line);
}
void z3fold_page_unlock(Mm& mm, Pfn zhdr, uint32_t line) { spin_unlock(page_lock(mm, zhdr), line); }

// ---- slots and handles ----

uint32_t handle_to_slots(uint64_t handle) { return uint32_t(handle / SLOTS_ALIGN); }
uint32_t handle_idx(uint64_t handle) { return uint32_t(handle % SLOTS_ALIGN) / 8; }
bool headless_handle(uint64_t handle) { return handle & (1u << PAGE_HEADLESS); }
uint64_t slot_handle(uint32_t slots, uint32_t idx) { return uint64_t(slots) * SLOTS_ALIGN + idx * 8; }
// page_address(): the direct map starts at PAGE_OFFSET, so no page's address is 0 (which a
// handle of 4.19, the address itself, would take for "no handle").
constexpr uint64_t PAGE_OFFSET = uint64_t(1) << 40;
uint64_t page_address(Pfn pfn) { return PAGE_OFFSET + (uint64_t(pfn) << PAGE_SHIFT); }
// addr & PAGE_MASK. A slot read as 0 (its handle freed under a reader) is a NULL header.
Pfn addr_to_zhdr(uint64_t addr) {
  if (addr < PAGE_OFFSET) null_deref("struct z3fold_header (zhdr: a handle's slot read as 0)", addr & ~uint64_t(PAGE_SIZE - 1));
  return Pfn((addr - PAGE_OFFSET) >> PAGE_SHIFT);
}

Z3foldSlots& slots_at(Mm& mm, uint32_t id, bool write) {
  Z3fold& z = Z(mm);
  if (!id || id > z.slots.size()) null_deref("struct z3fold_buddy_slots", uint64_t(id) * SLOTS_ALIGN);
  Z3foldSlots& s = z.slots[id - 1];
  kasan_check(s.life, "struct z3fold_buddy_slots", std::to_string(id), write);
  return s;
}

// *(unsigned long *)handle, under the slots' lock.
uint64_t read_handle(Mm& mm, uint64_t handle, uint32_t line = here()) {
  Z3foldSlots& s = slots_at(mm, handle_to_slots(handle), false);
  sched(Op::Read, Access::Read, z3fold_slots_obj(handle_to_slots(handle)), line);
  return s.slot[handle_idx(handle)];
}
void write_handle(Mm& mm, uint64_t handle, uint64_t v, uint32_t line = here()) {
  Z3foldSlots& s = slots_at(mm, handle_to_slots(handle), true);
  sched(Op::Write, Access::Write, z3fold_slots_obj(handle_to_slots(handle)), line);
  s.slot[handle_idx(handle)] = v;
  wake_up(z3fold_slots_obj(handle_to_slots(handle)));  // get_z3fold_header looks again
}

// A new slots array: a kmem_cache object of pool->c_handle, or (nofree) reclaim's own on
// its stack with HANDLES_NOFREE.
uint32_t new_slots(Mm& mm, uint32_t pool, bool nofree) {
  Z3fold& z = Z(mm);
  Z3foldSlots& s = z.slots.emplace_back();
  const uint32_t id = uint32_t(z.slots.size());
  s.pool = pool;
  s.nofree = nofree;
  s.allocated = !nofree;
  s.lock.id = z3fold_slots_obj(id);
  kasan_alloc(s.life);
  return id;
}

uint32_t alloc_slots(Mm& mm, uint32_t pool, gfp_t gfp) {
  MODEL_FUNC("alloc_slots");
  // kmem_cache_zalloc may sleep for a gfp that allows it (might_sleep_if).
  if (Sim* s = Sim::current(); s && s->current_task() && (gfp & __GFP_DIRECT_RECLAIM))
    s->might_sleep("kmem_cache_zalloc", z3fold_slots_obj(0));
  return new_slots(mm, pool, false);  // kmem_cache_zalloc(pool->c_handle, ...)
}

// kmem_cache_free(pool->c_handle, slots): a write of the slots only (KASAN's quarantine
// keeps them from reuse, so nothing else conflicts with the free).
void free_slots(Mm& mm, uint32_t id) {
  Z3foldSlots& s = slots_at(mm, id, true);
  sched(Op::Write, Access::Write, z3fold_slots_obj(id), here());
  s.allocated = false;
  kasan_record_free(s.life, "struct z3fold_buddy_slots", id);
}

// handle_to_z3fold_header before 4a3ac9311dac: the page the slot names, read unlocked (its
// callers then wait for that page's lock).
Pfn handle_to_z3fold_header(Mm& mm, uint64_t handle) {
  MODEL_FUNC("handle_to_z3fold_header");
  if (!slots_on(mm)) return addr_to_zhdr(handle);  // handle & PAGE_MASK
  return addr_to_zhdr(headless_handle(handle) ? handle : read_handle(mm, handle));
}

// get_z3fold_header (4a3ac9311dac): the handle's header, locked (unless the page is headless).
Pfn get_z3fold_header(Mm& mm, uint64_t handle) {
  MODEL_FUNC("get_z3fold_header");
  if (headless_handle(handle)) return addr_to_zhdr(handle);
  const uint32_t slots = handle_to_slots(handle);
  for (;;) {
    RwLock& lock = slots_at(mm, slots, false).lock;
    read_lock(lock);
    const uint64_t addr = read_handle(mm, handle);
    const Pfn zhdr = addr_to_zhdr(addr);
    const bool locked = z3fold_page_trylock(mm, zhdr);
    read_unlock(lock);
    if (locked) {
      // 943fb61dd66f: a migrated page is released soon; look at the slot again.
      if (!has(mm, Fix::Z3foldMigratedFlag) || !test_priv(mm, PAGE_MIGRATED, zhdr)) return zhdr;
      z3fold_page_unlock(mm, zhdr);
    }
    // cpu_relax(), and again: the model's task waits for a change of what it saw (the
    // lock released, or the slot rewritten), which another look would see at once.
    const Z3foldSlots& s = Z(mm).slots[slots - 1];
    if (s.slot[handle_idx(handle)] != addr) continue;
    if (!locked && spin_is_locked(page_mem(mm, zhdr).hdr.page_lock))
      poll_spin(make_obj(z3obj::kPageLock, zhdr), "get_z3fold_header");
    else if (locked)
      poll_spin(z3fold_slots_obj(slots), "get_z3fold_header");
  }
}

// 4a1c3839108a: PAGE_CLAIMED is cleared under the page lock; before, after the unlock.
void unclaim_and_unlock(Mm& mm, Pfn zhdr) {
  if (has(mm, Fix::Z3foldClaimedUnderLock)) {
    clear_priv(mm, PAGE_CLAIMED, zhdr);
    z3fold_page_unlock(mm, zhdr);
  } else {
    z3fold_page_unlock(mm, zhdr);
    clear_priv(mm, PAGE_CLAIMED, zhdr);
  }
}

void put_z3fold_header(Mm& mm, Pfn zhdr) {
  if (!test_priv(mm, PAGE_HEADLESS, zhdr)) z3fold_page_unlock(mm, zhdr);
}

uint64_t read_handle_locked(Mm& mm, uint64_t handle);

// Whether every slot of `slots` is free; the caller holds its lock.
bool slots_empty(Mm& mm, uint32_t slots) {
  sched(Op::Read, Access::Read, z3fold_slots_obj(slots), here());
  for (uint64_t v : Z(mm).slots[slots - 1].slot)
    if (v) return false;
  return true;
}

void free_handle(Mm& mm, uint64_t handle, Pfn zhdr) {
  MODEL_FUNC("free_handle");
  if (headless_handle(handle)) return;
  // `if (WARN_ON(...)) return;` since 4a3ac9311dac; before, the WARN_ON only.
  if (Z3_WARN_ON(read_handle(mm, handle) == 0, "WARN_ON(*(unsigned long *)handle == 0)", "the handle's slot is already free") &&
      inter_page(mm))
    return;
  if (!inter_page(mm)) {  // no lock and no foreign handles: the last handle frees the slots
    const uint32_t slots = handle_to_slots(handle);
    write_handle(mm, handle, 0);
    if (slots_empty(mm, slots)) free_slots(mm, slots);  // kmem_cache_free(pool->c_handle, slots)
    return;
  }
  // Before fc5488651c7d: zhdr = handle_to_z3fold_header(handle), its page as the slot says.
  const bool frees_own = has(mm, Fix::Z3foldFreeHandleFreesSlots);
  if (!frees_own) zhdr = addr_to_zhdr(read_handle_locked(mm, handle));
  const uint32_t slots = handle_to_slots(handle);
  RwLock& lock = slots_at(mm, slots, true).lock;
  write_lock(lock);
  write_handle(mm, handle, 0);
  // Before d8f117abb380 (5.5, 5.6) the write lock covered the store only, and the orphaned
  // test took the read lock again: a release of the old page could free the slots between.
  const bool relock = !frees_own && !has(mm, Fix::Z3foldFreeHandleWriteLock);
  if (relock) write_unlock(lock);
  // HANDLES_NOFREE: "simple case, nothing else to do"; before fc5488651c7d the page's own
  // slots go with the page (__release_z3fold_page).
  if (Z(mm).slots[slots - 1].nofree || (!frees_own && Hr(mm, zhdr).slots == slots)) {
    if (!relock) write_unlock(lock);
    return;
  }
  if (Hr(mm, zhdr).slots != slots) Hw(mm, zhdr).foreign_handles--;
  if (relock) {
    read_lock(lock);
    slots_at(mm, slots, false);  // KASAN: the slots, read again
  }
  const auto unlock = [&] { relock ? read_unlock(lock) : write_unlock(lock); };
  if (!frees_own) {
    sched(Op::BitTest, Access::Read, z3fold_slots_obj(slots), here());  // test_bit(HANDLES_ORPHANED)
    if (!Z(mm).slots[slots - 1].orphaned) {  // a foreign handle of a page still there
      unlock();
      return;
    }
  }
  const bool is_free = slots_empty(mm, slots);
  unlock();
  if (is_free) {
    if (Hr(mm, zhdr).slots == slots) Hw(mm, zhdr).slots = 0;
    free_slots(mm, slots);  // kmem_cache_free(pool->c_handle, slots)
  }
}

// __idx, __encode_handle, encode_handle
uint32_t idx_of(const Z3foldHeader& h, z3fold_buddy bud) { return (bud + h.first_num) & BUDDY_MASK; }

// __encode_handle: the handle of a buddy in `slots` (zhdr->slots, or reclaim's own).
uint64_t __encode_handle(Mm& mm, Pfn zhdr, uint32_t slots, z3fold_buddy bud) {
  const uint64_t addr = page_address(zhdr);
  if (bud == HEADLESS) return slots_on(mm) ? addr | (1u << PAGE_HEADLESS) : addr;
  const Z3foldHeader& h = Hr(mm, zhdr);
  const uint32_t idx = idx_of(h, bud);
  uint64_t v = addr + idx;
  if (bud == LAST && reclaim_races(mm)) v |= uint64_t(h.last_chunks) << BUDDY_SHIFT;
  if (!slots_on(mm)) return v;  // the handle itself
  if (!inter_page(mm)) {  // unlocked before 4a3ac9311dac
    write_handle(mm, slot_handle(slots, idx), v);
    return slot_handle(slots, idx);
  }
  RwLock& lock = slots_at(mm, slots, true).lock;
  write_lock(lock);
  write_handle(mm, slot_handle(slots, idx), v);
  write_unlock(lock);
  return slot_handle(slots, idx);
}

uint64_t encode_handle(Mm& mm, Pfn zhdr, z3fold_buddy bud) {
  return __encode_handle(mm, zhdr, bud == HEADLESS || !slots_on(mm) ? 0 : Hr(mm, zhdr).slots, bud);
}

// *handle, between read_lock(&slots->lock) and read_unlock (unlocked before 4a3ac9311dac).
uint64_t read_handle_locked(Mm& mm, uint64_t handle) {
  if (!inter_page(mm)) return read_handle(mm, handle);
  RwLock& lock = slots_at(mm, handle_to_slots(handle), false).lock;
  read_lock(lock);
  const uint64_t addr = read_handle(mm, handle);
  read_unlock(lock);
  return addr;
}

// handle_to_chunks: only for LAST.
uint16_t handle_to_chunks(Mm& mm, uint64_t handle) {
  const uint64_t addr = slots_on(mm) ? read_handle_locked(mm, handle) : handle;
  return uint16_t((addr & (PAGE_SIZE - 1)) >> BUDDY_SHIFT);
}

z3fold_buddy handle_to_buddy(Mm& mm, uint64_t handle) {
  MODEL_FUNC("handle_to_buddy");
  const uint64_t addr = slots_on(mm) ? read_handle_locked(mm, handle) : handle;
  const Pfn zhdr = addr_to_zhdr(addr);
  return z3fold_buddy((addr - Hr(mm, zhdr).first_num) & BUDDY_MASK);
}

// ---- lists ----

void buddy_del_init(Mm& mm, uint32_t pool, Pfn zhdr) {
  Z3foldHeader& h = Hw(mm, zhdr);
  Z3foldPool& p = pool_of(mm, pool);
  sched(Op::ListDel, Access::Write, lists_obj(pool), here());
  if (h.buddy >= 0) std::erase(p.unbuddied[size_t(h.buddy)], zhdr);  // (kZ3OutOfBounds: no list of the pool's)
  else if (h.buddy == kZ3Stale) std::erase(p.stale, zhdr);
  else if (h.buddy <= kZ3CopiedFrom) checked_mem(mm, Pfn(kZ3CopiedFrom - h.buddy), true);  // the old page's buddy
  h.buddy = kZ3NoList;
}

bool buddy_empty(Mm& mm, Pfn zhdr) { return Hr(mm, zhdr).buddy == kZ3NoList; }

void buddy_add(Mm& mm, uint32_t pool, Pfn zhdr, int32_t list) {
  Z3foldHeader& h = Hw(mm, zhdr);
  if (h.buddy != kZ3NoList && h.buddy > kZ3CopiedFrom)
    BUG(REPORT_FUNC("__list_add"), "list_add double add: z3fold header " + pfn_name(zhdr) + " is already listed");
  Z3foldPool& p = pool_of(mm, pool);
  sched(Op::ListAdd, Access::Write, lists_obj(pool), here());
  auto& l = list == kZ3Stale ? p.stale : p.unbuddied[size_t(list)];
  l.insert(l.begin(), zhdr);
  h.buddy = list;
}

// The page's lru links: INIT_LIST_HEAD(&page->lru), and whether it is on pool->lru.
void init_page_lru(Mm& mm, Pfn page) {
  sched(Op::Write, Access::Write, page_obj(page), here());
  Page& pg = mm.page(page);
  pg.list = kNoList;
  pg.lru_prev = pg.lru_next = kNoPfn;
}
bool page_lru_listed(Mm& mm, Pfn page) {
  sched(Op::Read, Access::Read, page_obj(page), here());
  const Mm& cm = mm;
  return cm.page(page).list != kNoList;
}
// list_del(&page->lru). A z3fold page's lru is initialised (init_z3fold_page), so one on no
// list is linked to itself (list_del_init), which list_del unlinks silently and poisons.
void lru_del(Mm& mm, Pfn page) {
  if (mm.page(page).list != kNoList) return list_del(mm, page, here());
  sched(Op::ListDel, Access::Write, page_obj(page), here());
  mm.page(page).list = kPoisonList;
}

// ---- the page ----

uint32_t num_free_chunks(const Mm& mm, const Z3foldHeader& h) {
  const uint32_t nchunks = TOTAL_CHUNKS - zhdr_chunks(mm);  // NCHUNKS
  // If there is a middle object, pick up the bigger free space either before or after it.
  if (h.middle_chunks != 0) {
    const int nfree_before = h.first_chunks ? 0 : h.start_middle - int(zhdr_chunks(mm));
    // "fix header size related issues" (4.11): up to the page's end; before, one chunk short.
    const int end = int(per_cpu_lists(mm) || has(mm, Fix::Z3foldHeaderSize) ? TOTAL_CHUNKS : nchunks);
    const int nfree_after = h.last_chunks ? 0 : end - (h.start_middle + h.middle_chunks);
    return uint32_t(std::max(nfree_before, nfree_after));
  }
  return nchunks - h.first_chunks - h.last_chunks;
}

void add_to_unbuddied(Mm& mm, uint32_t pool, Pfn zhdr) {
  const Z3foldHeader& h = Hr(mm, zhdr);
  if (h.first_chunks == 0 || h.last_chunks == 0 || h.middle_chunks == 0) {
    const uint32_t freechunks = num_free_chunks(mm, h);
    const uint32_t cpu = smp_processor_id();  // migrate_disable(); this_cpu_ptr(pool->unbuddied)
    Z3foldPool& p = pool_of(mm, pool);
    spin_lock(p.lock);
    if (freechunks < NCHUNKS) {
      buddy_add(mm, pool, zhdr, int32_t(cpu * NCHUNKS + freechunks));
    } else {  // a page with no object: unbuddied[NCHUNKS] is past the per-CPU array
      sched(Op::ListAdd, Access::Write, lists_obj(pool), here());
      REPORT_CORRUPTION(REPORT_FUNC_HERE(), "list_add(&zhdr->buddy, &unbuddied[NCHUNKS]) for " + pfn_name(zhdr) +
                                                ", which holds no object: the list head is past the end of "
                                                "the pool's per-CPU array");
      Hw(mm, zhdr).buddy = kZ3OutOfBounds;
    }
    spin_unlock(p.lock);
    Hw(mm, zhdr).cpu = int16_t(cpu);
  }
}

z3fold_buddy get_free_buddy(const Mm& mm, const Z3foldHeader& h, uint32_t chunks) {
  if (!has(mm, Fix::Z3foldStricterLocking)) {
    // Before dcf5aedb24f8 (z3fold_alloc's and compact_single_buddy's own tests): a first
    // buddy may reach into a middle object that starts below chunks + ZHDR_CHUNKS.
    if (!h.first_chunks) return h.middle_chunks && chunks >= h.start_middle ? LAST : FIRST;
    if (!h.last_chunks) return LAST;
    return h.middle_chunks ? HEADLESS : MIDDLE;
  }
  if (h.middle_chunks) {
    if (!h.first_chunks && chunks <= h.start_middle - ZHDR_CHUNKS) return FIRST;
    if (!h.last_chunks) return LAST;
    return HEADLESS;
  }
  if (!h.first_chunks) return FIRST;
  if (!h.last_chunks) return LAST;
  return MIDDLE;
}

void set_chunks(Mm& mm, Pfn zhdr, z3fold_buddy bud, uint32_t chunks) {
  Z3foldHeader& h = Hw(mm, zhdr);
  if (bud == FIRST) {
    h.first_chunks = uint16_t(chunks);
  } else if (bud == LAST) {
    h.last_chunks = uint16_t(chunks);
  } else {
    h.middle_chunks = uint16_t(chunks);
    h.start_middle = uint16_t(h.first_chunks + zhdr_chunks(mm));
  }
}

bool buddy_single(const Z3foldHeader& h) {
  return !((h.first_chunks && h.middle_chunks) || (h.first_chunks && h.last_chunks) ||
           (h.middle_chunks && h.last_chunks));
}

uint32_t size_to_chunks(size_t size) { return uint32_t((size + CHUNK_SIZE - 1) >> CHUNK_SHIFT); }

void compact_page_work(World& w, uint64_t zhdr);
void free_pages_work(World& w, uint64_t pool);

// init_z3fold_page: the header of a newly allocated page (a page reused from the stale
// list keeps its memory).
Pfn init_z3fold_page(Mm& mm, Pfn page, bool headless, uint32_t pool, gfp_t gfp) {
  MODEL_FUNC("init_z3fold_page");
  // From 7c2b8baa61fe to 63398413c00c the slots came first, for a headless page too, which
  // never freed them.
  const bool slots_first = slots_on(mm) && !has(mm, Fix::Z3foldHeadlessNoSlots);
  uint32_t slots = slots_first ? alloc_slots(mm, pool, gfp) : 0;
  init_page_lru(mm, page);
  clear_priv(mm, PAGE_HEADLESS, page);
  clear_priv(mm, MIDDLE_CHUNK_MAPPED, page);
  clear_priv(mm, NEEDS_COMPACTING, page);
  clear_priv(mm, PAGE_STALE, page);
  clear_priv(mm, PAGE_CLAIMED, page);
  if (has(mm, Fix::Z3foldMigratedFlag)) clear_priv(mm, PAGE_MIGRATED, page);
  Z3foldPageMem& m = page_mem(mm, page);
  if (m.life.freed || m.hdr.pool == 0) kasan_alloc(m.life);  // a page fresh from the allocator
  if (headless && !slots_first) return page;
  if (slots_on(mm) && !slots_first) slots = alloc_slots(mm, pool, gfp);
  sched(Op::Write, Access::Write, z3fold_header_obj(page), here());  // memset(zhdr, 0, ...)
  Z3foldHeader& h = m.hdr;
  // Before d8f117abb380 init_z3fold_page left mapped_count as the page had it (the model
  // knows a page's last z3fold life only: from another owner it is 0).
  const uint8_t mapped_count = has(mm, Fix::Z3foldFreeHandleWriteLock) ? 0 : h.mapped_count;
  h = Z3foldHeader{};
  h.mapped_count = mapped_count;
  h.page_lock.id = make_obj(z3obj::kPageLock, page);
  h.refcount = 1;
  h.cpu = -1;
  h.slots = slots;
  h.pool = pool + 1;  // model: 0 is "never a z3fold header"
  h.work = init_work(mm, compact_page_work, page, "z3fold compact_page_work");
  return page;
}

// free_z3fold_page: resets the struct page fields and frees the page.
void free_z3fold_page(Mm& mm, Pfn page, bool headless) {
  MODEL_FUNC("free_z3fold_page");
  if (!headless && movable(mm)) {
    lock_page(mm, page);
    __ClearPageMovable(mm, page);
    unlock_page(mm, page);
  }
  __free_pages(mm, page, 0);
}

// zhdr_to_pool. From 7c2b8baa61fe to bb9a374dfa3a, slots_to_pool(zhdr->slots): the pool
// through the slots, which z3fold_free's free_handle may have freed.
uint32_t pool_id(Mm& mm, Pfn zhdr) {
  const Z3foldHeader& h = Hr(mm, zhdr);
  if (slots_on(mm) && !has(mm, Fix::Z3foldPoolInHeader)) {
    MODEL_FUNC("slots_to_pool");
    const uint32_t slots = h.slots;
    sched(Op::Read, Access::Read, z3fold_slots_obj(slots), here());
    return slots_at(mm, slots, false).pool;
  }
  return h.pool - 1;
}

void __release_z3fold_page(Mm& mm, Pfn zhdr, bool locked) {
  MODEL_FUNC("__release_z3fold_page");
  const uint32_t pool = pool_id(mm, zhdr);
  Z3foldPool& p = pool_of(mm, pool);
  Z3_WARN_ON(!buddy_empty(mm, zhdr), "WARN_ON(!list_empty(&zhdr->buddy))", "the released page is still on an unbuddied list");
  set_priv(mm, PAGE_STALE, zhdr);
  if (has(mm, Fix::Z3foldStaleListHandling)) clear_priv(mm, NEEDS_COMPACTING, zhdr);
  spin_lock(p.lock);  // (from e774a7bc7f0a an empty critical section)
  if (!has(mm, Fix::Z3foldNoLru) && page_lru_listed(mm, zhdr)) {
    if (movable(mm))
      list_del_init(mm, zhdr, here());
    else
      list_del(mm, zhdr, here());  // until 1f862989b04a
  }
  spin_unlock(p.lock);
  if (inter_page(mm) && !has(mm, Fix::Z3foldFreeHandleFreesSlots)) {
    // "If there are no foreign handles, free the handles array"; else the last foreign
    // handle's free_handle frees it. (Before 4a3ac9311dac free_handle freed them.)
    const uint32_t slots = Hr(mm, zhdr).slots;
    Z3foldSlots& s = slots_at(mm, slots, false);
    read_lock(s.lock);
    const bool is_free = slots_empty(mm, slots);
    if (!is_free) {
      sched(Op::BitSet, Access::Write, z3fold_slots_obj(slots), here());  // set_bit(HANDLES_ORPHANED)
      s.orphaned = true;
    }
    read_unlock(s.lock);
    if (is_free) free_slots(mm, slots);
  }
  if (locked) z3fold_page_unlock(mm, zhdr);
  spin_lock(p.stale_lock);
  buddy_add(mm, pool, zhdr, kZ3Stale);
  queue_work(mm, p.release_wq, p.work, here());
  spin_unlock(p.stale_lock);
  p.pages_nr--;  // 6.1 decrements here; 5.15 after each kref_put (a statistic only)
}

// kref_put(&zhdr->refcount, release): true when this put released the page.
enum class Release { Unlocked, Locked, LockedList };
bool put_z3fold(Mm& mm, Pfn zhdr, Release how) {
  if (--H(mm, zhdr, Op::AtomicRmw, here()).refcount != 0) return false;
  if (how == Release::Unlocked) {  // release_z3fold_page (until 04094226d6ce)
    MODEL_FUNC("release_z3fold_page");
    __release_z3fold_page(mm, zhdr, false);
    return true;
  }
  if (how == Release::LockedList) {  // release_z3fold_page_locked_list
    MODEL_FUNC("release_z3fold_page_locked_list");
    const uint32_t pool = pool_id(mm, zhdr);
    spin_lock(pool_of(mm, pool).lock);
    buddy_del_init(mm, pool, zhdr);
    spin_unlock(pool_of(mm, pool).lock);
  }
  if (z3fold_page_trylock(mm, zhdr)) {
    const char* fn = how == Release::Locked ? REPORT_FUNC("release_z3fold_page_locked")
                                            : REPORT_FUNC("release_z3fold_page_locked_list");
    const uint32_t site = how == Release::Locked
                              ? BUG_SITE_IN("release_z3fold_page_locked", "WARN_ON(z3fold_page_trylock(zhdr))")
                              : BUG_SITE_IN("release_z3fold_page_locked_list", "WARN_ON(z3fold_page_trylock(zhdr))");
    WARN(fn, site, {"the released page's lock was not held"});
  }
  __release_z3fold_page(mm, zhdr, true);
  return true;
}

void kref_get(Mm& mm, Pfn zhdr) { H(mm, zhdr, Op::AtomicRmw, here()).refcount++; }

// The content token of the object at `chunk` of the page (a memcpy of it).
Z3foldObject& data_at(Mm& mm, Pfn page, uint32_t chunk, bool write) {
  sched(write ? Op::Write : Op::Read, write ? Access::Write : Access::Read, z3fold_header_obj(page), here());
  return checked_mem(mm, page, write, "z3fold page memory").data[chunk];
}

// The object at an address z3fold_map returned: past a header, or a headless page's start.
// Before ca0246bb97c2 the address of a LAST object freed under its user is the next page's
// start (its size read as 0 from the header).
Z3foldObject& object_at(Mm& mm, uint64_t addr, bool write) {
  const Mm& cm = mm;
  const Pfn pfn = addr_to_zhdr(addr);
  const uint32_t chunk = uint32_t(addr & (PAGE_SIZE - 1)) >> CHUNK_SHIFT;
  const Z3foldPageMem* m = cm.valid_pfn(pfn) ? page_mem_if(mm, pfn) : nullptr;
  if (m && (chunk >= zhdr_chunks(mm) || m->life.freed || ((cm.page(pfn).private_ >> PAGE_HEADLESS) & 1)))
    return data_at(mm, pfn, chunk, write);
  sched(write ? Op::Write : Op::Read, write ? Access::Write : Access::Read, page_obj(pfn), here());
  REPORT_CORRUPTION(REPORT_FUNC_HERE(), std::string(write ? "write to" : "read of") + " a z3fold object at pfn " +
                                            std::to_string(pfn) +
                                            ", where no object starts: the address is past the object's page");
  static thread_local Z3foldObject garbage;
  garbage = {};
  return garbage;
}

Pfn __z3fold_alloc(Mm& mm, uint32_t pool, size_t size, bool can_sleep, Pfn* page = nullptr);

// compact_single_buddy: moves the page's one object to another page (inter-page
// compaction, 4a3ac9311dac); the handle stays in this page's slots ("foreign").
Pfn compact_single_buddy(Mm& mm, Pfn zhdr) {
  MODEL_FUNC("compact_single_buddy");
  const uint32_t pool = pool_id(mm, zhdr);
  const Z3foldHeader h = Hr(mm, zhdr);
  const uint32_t first_idx = idx_of(h, FIRST), middle_idx = idx_of(h, MIDDLE), last_idx = idx_of(h, LAST);
  Z3foldSlots& s = slots_at(mm, h.slots, false);
  sched(Op::Read, Access::Read, z3fold_slots_obj(h.slots), here());  // the slots are local: page lock
  uint32_t src = 0, sz = 0;
  uint64_t old_handle = 0;
  uint16_t Z3foldHeader::*moved = nullptr;
  if (h.first_chunks && s.slot[first_idx]) {
    src = ZHDR_CHUNKS, sz = h.first_chunks, old_handle = slot_handle(h.slots, first_idx);
    moved = &Z3foldHeader::first_chunks;
  } else if (h.middle_chunks && s.slot[middle_idx]) {
    src = h.start_middle, sz = h.middle_chunks, old_handle = slot_handle(h.slots, middle_idx);
    moved = &Z3foldHeader::middle_chunks;
  } else if (h.last_chunks && s.slot[last_idx]) {
    src = TOTAL_CHUNKS - h.last_chunks, sz = h.last_chunks, old_handle = slot_handle(h.slots, last_idx);
    moved = &Z3foldHeader::last_chunks;
  }
  if (!sz) return kNoPfn;
  const Pfn new_zhdr = __z3fold_alloc(mm, pool, size_t(sz) << CHUNK_SHIFT, false);
  if (new_zhdr == kNoPfn) return kNoPfn;
  auto out_fail = [&] {
    if (!put_z3fold(mm, new_zhdr, Release::Locked)) {
      add_to_unbuddied(mm, pool, new_zhdr);
      z3fold_page_unlock(mm, new_zhdr);
    }
    return kNoPfn;
  };
  if (Z3_WARN_ON(new_zhdr == zhdr, "WARN_ON(new_zhdr == zhdr)", "__z3fold_alloc returned the page being compacted")) return out_fail();
  const z3fold_buddy new_bud = get_free_buddy(mm, Hr(mm, new_zhdr), sz);
  uint32_t dst;
  Z3foldHeader& nh = Hw(mm, new_zhdr);
  switch (new_bud) {
    case FIRST:
      nh.first_chunks = uint16_t(sz);
      dst = ZHDR_CHUNKS;
      break;
    case MIDDLE:
      nh.middle_chunks = uint16_t(sz);
      nh.start_middle = uint16_t(nh.first_chunks + ZHDR_CHUNKS);
      dst = nh.start_middle;
      break;
    case LAST:
      nh.last_chunks = uint16_t(sz);
      dst = TOTAL_CHUNKS - nh.last_chunks;
      break;
    default:
      return out_fail();
  }
  nh.foreign_handles++;
  data_at(mm, new_zhdr, dst, true) = data_at(mm, zhdr, src, false);  // memcpy(q, p, sz)
  RwLock& lock = slots_at(mm, h.slots, true).lock;
  write_lock(lock);
  uint64_t v = page_address(new_zhdr) + idx_of(Hr(mm, new_zhdr), new_bud);
  if (new_bud == LAST) v |= uint64_t(Hr(mm, new_zhdr).last_chunks) << BUDDY_SHIFT;
  write_handle(mm, old_handle, v);
  write_unlock(lock);
  add_to_unbuddied(mm, pool, new_zhdr);
  z3fold_page_unlock(mm, new_zhdr);
  Hw(mm, zhdr).*moved = 0;
  return new_zhdr;
}

void mchunk_memmove(Mm& mm, Pfn zhdr, uint16_t dst_chunk) {
  const Z3foldHeader& h = Hr(mm, zhdr);
  data_at(mm, zhdr, dst_chunk, true) = data_at(mm, zhdr, h.start_middle, false);
}

// z3fold_compact_page: moves the middle object within the page. Page lock held (4.8:
// pool->lock).
int z3fold_compact_page(Mm& mm, Pfn zhdr) {
  MODEL_FUNC("z3fold_compact_page");
  if (test_priv(mm, MIDDLE_CHUNK_MAPPED, zhdr)) return 0;  // can't move middle chunk, it's used
  if (movable(mm) && PageIsolated(mm, zhdr)) return 0;
  Z3foldHeader h = Hr(mm, zhdr);
  if (h.middle_chunks == 0) return 0;  // nothing to compact
  const uint32_t hdr_chunks = zhdr_chunks(mm);
  if (h.first_chunks == 0 && h.last_chunks == 0) {
    mchunk_memmove(mm, zhdr, uint16_t(hdr_chunks));  // move to the beginning
    Z3foldHeader& w = Hw(mm, zhdr);
    w.first_chunks = w.middle_chunks;
    w.middle_chunks = 0;
    w.start_middle = 0;
    w.first_num = uint8_t((w.first_num + 1) & buddy_mask(mm));
    return 1;
  }
  // 1b096e5ae9f7 (4.11); before, only a lone middle object moved.
  if (!per_cpu_lists(mm) && !has(mm, Fix::Z3foldExtendCompaction)) return 0;
  // moving data is expensive, so let's only do that if there's substantial gain
  if (h.first_chunks != 0 && h.last_chunks == 0 &&
      h.start_middle - (h.first_chunks + hdr_chunks) >= BIG_CHUNK_GAP) {
    const uint16_t to = uint16_t(h.first_chunks + hdr_chunks);
    mchunk_memmove(mm, zhdr, to);
    Hw(mm, zhdr).start_middle = to;
    return 1;
  }
  if (h.last_chunks != 0 && h.first_chunks == 0 &&
      TOTAL_CHUNKS - (h.last_chunks + h.start_middle + h.middle_chunks) >= BIG_CHUNK_GAP) {
    const uint16_t new_start = uint16_t(TOTAL_CHUNKS - h.last_chunks - h.middle_chunks);
    mchunk_memmove(mm, zhdr, new_start);
    Hw(mm, zhdr).start_middle = new_start;
    return 1;
  }
  return 0;
}

void do_compact_page(Mm& mm, Pfn zhdr, bool locked) {
  MODEL_FUNC("do_compact_page");
  const uint32_t pool = pool_id(mm, zhdr);
  if (locked)
    Z3_WARN_ON(z3fold_page_trylock(mm, zhdr), "WARN_ON(z3fold_page_trylock(zhdr))", "the page's lock was not held");
  else
    z3fold_page_lock(mm, zhdr);
  // 5d03a6613957: the compaction holds a reference; before, it left a stale page alone.
  const bool ref = has(mm, Fix::Z3foldKrefCompact);
  if (ref ? Z3_WARN_ON(!test_and_clear_priv(mm, NEEDS_COMPACTING, zhdr),
                       "WARN_ON(!test_and_clear_bit(NEEDS_COMPACTING, &page->private))", "NEEDS_COMPACTING was not set")
          : test_priv(mm, PAGE_STALE, zhdr) || !test_and_clear_priv(mm, NEEDS_COMPACTING, zhdr)) {
    z3fold_page_unlock(mm, zhdr);
    return;
  }
  spin_lock(pool_of(mm, pool).lock);
  buddy_del_init(mm, pool, zhdr);
  spin_unlock(pool_of(mm, pool).lock);
  if (ref && put_z3fold(mm, zhdr, Release::Locked)) return;
  // dcf5aedb24f8: the work claims the page under its lock. Before, it left a page alone
  // that isolation or reclaim had claimed, and claimed nothing itself.
  // 1f862989b04a: it leaves an isolated or stale page alone, and since the retry fix of
  // 5.4 a claimed one; 4.19 compacted any page.
  const bool claims = has(mm, Fix::Z3foldStricterLocking);
  if (claims ? test_priv(mm, PAGE_STALE, zhdr) || test_and_set_priv(mm, PAGE_CLAIMED, zhdr)
             : movable(mm) && (PageIsolated(mm, zhdr) ||
                               (has(mm, Fix::Z3foldReclaimRetry) && test_priv(mm, PAGE_CLAIMED, zhdr)) ||
                               test_priv(mm, PAGE_STALE, zhdr))) {
    z3fold_page_unlock(mm, zhdr);
    return;
  }
  if (inter_page(mm)) {
    const Z3foldHeader h = Hr(mm, zhdr);
    if (!h.foreign_handles && buddy_single(h) && h.mapped_count == 0 && compact_single_buddy(mm, zhdr) != kNoPfn) {
      if (!put_z3fold(mm, zhdr, Release::Locked)) {
        if (claims) clear_priv(mm, PAGE_CLAIMED, zhdr);
        z3fold_page_unlock(mm, zhdr);
      }
      return;
    }
  }
  z3fold_compact_page(mm, zhdr);
  // Before "introduce helper functions" (5.2): only a page that still holds an object.
  if (has(mm, Fix::Z3foldHelperFunctions) || num_free_chunks(mm, Hr(mm, zhdr)) < NCHUNKS) add_to_unbuddied(mm, pool, zhdr);
  if (claims) clear_priv(mm, PAGE_CLAIMED, zhdr);
  z3fold_page_unlock(mm, zhdr);
}

void compact_page_work(World& w, uint64_t zhdr) {
  MODEL_FUNC("compact_page_work");
  do_compact_page(static_cast<Mm&>(w), Pfn(zhdr), false);
}

void free_pages_work(World& w, uint64_t pool_id_) {
  MODEL_FUNC("free_pages_work");
  Mm& mm = static_cast<Mm&>(w);
  const uint32_t pool = uint32_t(pool_id_);
  Z3foldPool& p = pool_of(mm, pool);
  spin_lock(p.stale_lock);
  for (;;) {
    sched(Op::Read, Access::Read, lists_obj(pool), here());
    if (p.stale.empty()) break;
    const Pfn zhdr = p.stale.front();
    buddy_del_init(mm, pool, zhdr);  // list_del(&zhdr->buddy)
    if (Z3_WARN_ON(!test_priv(mm, PAGE_STALE, zhdr), "WARN_ON(!test_bit(PAGE_STALE, &page->private))",
                   "a page on the stale list is not PAGE_STALE")) continue;
    if (!has(mm, Fix::Z3foldStaleListHandling)) clear_priv(mm, NEEDS_COMPACTING, zhdr);
    spin_unlock(p.stale_lock);
    cancel_work_sync(mm, Hr(mm, zhdr).work, here());
    free_z3fold_page(mm, zhdr, false);
    spin_lock(p.stale_lock);  // after cond_resched()
  }
  spin_unlock(p.stale_lock);
}

// Takes the first header of an unbuddied list under pool->lock, locked and referenced, or
// kNoPfn: the list is empty, its head is not `expect` (the header an unlocked look saw, if
// any), the header's lock is taken, or the page is being compacted or claimed.
Pfn take_unbuddied(Mm& mm, uint32_t pool, size_t list, Pfn expect, Pfn* page) {
  Z3foldPool& p = pool_of(mm, pool);
  spin_lock(p.lock);
  sched(Op::Read, Access::Read, lists_obj(pool), here());
  const Pfn zhdr = p.unbuddied[list].empty() ? kNoPfn : p.unbuddied[list].front();
  if (zhdr == kNoPfn || (expect != kNoPfn && zhdr != expect) || !z3fold_page_trylock(mm, zhdr)) {
    spin_unlock(p.lock);
    return kNoPfn;
  }
  buddy_del_init(mm, pool, zhdr);
  Hw(mm, zhdr).cpu = -1;
  spin_unlock(p.lock);
  if (page) *page = zhdr;  // page = virt_to_page(zhdr)
  // 4a3ac9311dac: nor a claimed one.
  if (test_priv(mm, NEEDS_COMPACTING, zhdr) || (inter_page(mm) && test_priv(mm, PAGE_CLAIMED, zhdr))) {
    z3fold_page_unlock(mm, zhdr);
    return kNoPfn;
  }
  // "this page could not be removed from its unbuddied list while pool lock was held,
  // and then we've taken page lock so kref_put could not be called before we got here"
  kref_get(mm, zhdr);
  return zhdr;
}

// __z3fold_alloc: a locked header with room for `size`, or kNoPfn. *page: the last page
// taken off a list, locked, and maybe given up (z3fold_alloc's `page` until 5.2).
Pfn __z3fold_alloc(Mm& mm, uint32_t pool, size_t size, bool can_sleep, Pfn* page) {
  MODEL_FUNC("__z3fold_alloc");
  const uint32_t chunks = size_to_chunks(size);
  Pfn zhdr = kNoPfn;
  for (bool lookup = true; lookup;) {
    lookup = false;
    const uint32_t cpu = smp_processor_id();  // migrate_disable(); this_cpu_ptr(pool->unbuddied)
    for (uint32_t i = chunks; i < NCHUNKS && zhdr == kNoPfn && !lookup; ++i) {
      const size_t l = size_t(cpu) * NCHUNKS + i;
      sched(Op::Read, Access::Read, lists_obj(pool), here());  // READ_ONCE(l), unlocked
      const Z3foldPool& p = pool_of(mm, pool);
      if (p.unbuddied[l].empty()) continue;
      // Re-check under lock; any failure looks again from the start (goto lookup).
      zhdr = take_unbuddied(mm, pool, l, p.unbuddied[l].front(), page);
      lookup = zhdr == kNoPfn;
    }
  }
  // look for _exact_ match on other cpus' lists (since "improve compression by extending search")
  for (uint32_t cpu = 0; has(mm, Fix::Z3foldExtendSearch) && cpu < mm.nr_cpu_ids && zhdr == kNoPfn; ++cpu)
    zhdr = take_unbuddied(mm, pool, size_t(cpu) * NCHUNKS + chunks, kNoPfn, page);
  // fc5488651c7d: free_handle may have freed the page's slots.
  if (zhdr != kNoPfn && has(mm, Fix::Z3foldFreeHandleFreesSlots) && !Hr(mm, zhdr).slots) {
    // 5.15's gfp in every preset: 4c6bdb36408f (5.19, GFP_ATOMIC under the page lock) is
    // not modelled (docs/kernel/history.md).
    const gfp_t gfp = can_sleep ? GFP_NOIO : GFP_ATOMIC;
    Hw(mm, zhdr).slots = alloc_slots(mm, pool, gfp);
  }
  return zhdr;
}

uint32_t pool_mapping(Mm& mm, uint32_t pool) { return pool_of(mm, pool).mapping; }

}  // namespace z3fold_impl

using namespace z3fold_impl;

const mm::AddressSpaceOps z3fold_aops = {"z3fold_aops", z3fold_page_isolate, z3fold_page_migrate,
                                         z3fold_page_putback};

namespace {
const bool registered = [] {
  register_obj_class(z3obj::kHeader, "z3fold header", [](uint64_t i, const World*) {
    return "z3fold header (pfn " + std::to_string(i) + ")";
  });
  register_obj_class(z3obj::kPageLock, "zhdr->page_lock", [](uint64_t i, const World*) {
    return "zhdr->page_lock (pfn " + std::to_string(i) + ")";
  });
  register_obj_class(z3obj::kSlots, "z3fold slots", [](uint64_t i, const World*) {
    return "z3fold slots " + std::to_string(i);
  });
  register_obj_class(z3obj::kPool, "z3fold pool", [](uint64_t i, const World*) {
    static const char* const part[] = {"pool->lock", "pool->stale_lock", "pool lists", "?"};
    if ((i & 3) == 3) return std::string("zswap tree->lock");
    return std::string(part[i & 3]) + " (z3fold pool " + std::to_string(i >> 2) + ")";
  });
  return true;
}();
}  // namespace

void z3fold_page_freed(Mm& mm, Pfn pfn) {
  const Z3fold& z = Z(mm);
  if (pfn >= z.mem_of.size() || !z.mem_of[pfn]) return;
  Z3foldPageMem& m = page_mem(mm, pfn);
  if (!m.life.freed) kasan_record_free(m.life, "z3fold page", pfn);
  m.private_at_free = static_cast<const Mm&>(mm).page(pfn).private_;
}

uint32_t z3fold_create_pool(Mm& mm, std::string name) {
  MODEL_FUNC("z3fold_create_pool");
  (void)registered;
  Z3fold& z = Z(mm);
  const uint32_t id = uint32_t(z.pools.size());
  Z3foldPool& p = z.pools.emplace_back();
  p.name = std::move(name);
  p.lock.id = pool_obj(id, 0);
  z.zswap_tree_lock.id = zswap_tree_obj();
  p.stale_lock.id = pool_obj(id, 1);
  if (!has(mm, Fix::Z3foldNoLru)) p.lru = new_list(mm, "z3fold pool->lru");
  kasan_alloc(p.life);
  if (!per_cpu_lists(mm)) {  // one array of unbuddied lists, then buddied; no workqueues
    p.unbuddied.resize(z3fold_4_8::kLists);
    return id;
  }
  p.unbuddied.resize(size_t(mm.nr_cpu_ids) * NCHUNKS);  // for_each_possible_cpu
  p.compact_wq = alloc_workqueue(mm, "z3fold compact", 0);  // create_singlethread_workqueue
  p.release_wq = alloc_workqueue(mm, "z3fold release", 0);
  if (!movable(mm)) {
    // before 1f862989b04a: no inode
  } else if (has(mm, Fix::MovableOperations)) {
    if (!z.mops_mapping) z.mops_mapping = mm.new_mapping("z3fold_mops", &z3fold_aops, 0);
    p.mapping = z.mops_mapping;
  } else {
    p.mapping = mm.new_mapping("z3fold:" + p.name, &z3fold_aops, id);  // z3fold_register_migration
  }
  p.work = init_work(mm, free_pages_work, id, "z3fold free_pages_work");
  return id;
}

void z3fold_destroy_pool(Mm& mm, uint32_t pool) {
  MODEL_FUNC("z3fold_destroy_pool");
  Z3foldPool& p = pool_of(mm, pool);
  // kmem_cache_destroy(pool->c_handle): slots still allocated are only reported by the
  // slab ("Slab cache still has objects"); z3fold_check reports them as a leak.
  // 6051d3bd3b91: "We need to destroy pool->compact_wq before pool->release_wq, as any pending work on
  // pool->compact_wq will call queue_work(pool->release_wq, &pool->work)."
  // b997052bc3ac: "There are still outstanding pages until both workqueues are drained, so
  // we cannot unregister migration until then"; from 1f862989b04a to it, first.
  const auto unregister_migration = [&] {  // z3fold_unregister_migration: iput(pool->inode)
    if (!movable(mm) || has(mm, Fix::MovableOperations)) return;
    mm::AddressSpace& a = mm.mappings[p.mapping];
    kasan_free(a.life, "struct address_space " + a.name, here());
  };
  if (!has(mm, Fix::Z3foldUnregisterAfterDrain)) unregister_migration();
  if (!per_cpu_lists(mm)) {
    // before d30561c56f41: no workqueues
  } else if (has(mm, Fix::Z3foldDestroyOrdering)) {
    destroy_workqueue(mm, p.compact_wq, here());
    destroy_workqueue(mm, p.release_wq, here());
  } else {  // until 6051d3bd3b91
    destroy_workqueue(mm, p.release_wq, here());
    destroy_workqueue(mm, p.compact_wq, here());
  }
  if (has(mm, Fix::Z3foldUnregisterAfterDrain)) unregister_migration();
  p.live = false;
  kasan_free(p.life, "struct z3fold_pool " + p.name, here());  // kfree(pool)
}

int z3fold_alloc(Mm& mm, uint32_t pool, size_t size, gfp_t gfp, uint64_t* handle) {
  if (!per_cpu_lists(mm)) {
    const int ret = z3fold_4_8::z3fold_alloc(mm, pool, size, gfp, handle);
    if (ret == 0) Z(mm).handles[*handle] = {pool, 0, false};
    return ret;
  }
  MODEL_FUNC("z3fold_alloc");
  const uint32_t chunks = size_to_chunks(size);
  // gfpflags_allow_blocking; before "Use gfpflags_allow_blocking" (4.17), both reclaim bits.
  const bool can_sleep = has(mm, Fix::Z3foldAllowBlocking) ? (gfp & __GFP_DIRECT_RECLAIM) != 0
                                                           : (gfp & __GFP_RECLAIM) == __GFP_RECLAIM;
  // __GFP_HIGHMEM: refused until f1549cb5ab2b and again since f4bad643c1d6.
  const bool highmem_ok = has(mm, Fix::Z3foldAllowHighmem) && !has(mm, Fix::Z3foldNoHighmem);
  if (!size || (!highmem_ok && (gfp & __GFP_HIGHMEM))) return -EINVAL;
  if (size > PAGE_SIZE) return -ENOSPC;
  Z3foldPool& p = pool_of(mm, pool);
  z3fold_buddy bud = FIRST;
  Pfn zhdr = kNoPfn, page = kNoPfn;
  Pfn looked = kNoPfn;  // the kernel's `page` after the lookup (NULL if it took none)
  if (size > PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE) {
    bud = HEADLESS;
  } else {
    for (;;) {
      zhdr = __z3fold_alloc(mm, pool, size, can_sleep, &looked);
      if (zhdr == kNoPfn) break;
      bud = get_free_buddy(mm, Hr(mm, zhdr), chunks);
      if (bud != HEADLESS) break;
      if (!put_z3fold(mm, zhdr, Release::Locked)) z3fold_page_unlock(mm, zhdr);
      WARN(REPORT_FUNC_HERE(), BUG_SITE("WARN_ON(1)"), {"No free chunks in unbuddied"});
    }
    if (zhdr == kNoPfn) bud = FIRST;
  }
  if (zhdr == kNoPfn) {
    // Before "limit use of stale list for allocation" (4.17) also a task that may not
    // sleep took a stale page whose work was not pending (and cancelled nothing).
    const bool sleep_only = has(mm, Fix::Z3foldStaleOnlyIfCanSleep);
    if ((can_sleep || !sleep_only) && !has(mm, Fix::Z3foldNoStaleReuse)) {
      // Before allocating a page, let's see if we can take one from the stale list.
      spin_lock(p.stale_lock);
      sched(Op::Read, Access::Read, lists_obj(pool), here());
      Pfn stale = p.stale.empty() ? kNoPfn : p.stale.front();
      // Before "fix stale list handling", `|| !work_busy(&zhdr->work)` too: a pending work is
      // busy, so the same test, with one more look at the work.
      if (stale != kNoPfn && !sleep_only && !can_sleep && work_pending(mm, Hr(mm, stale).work, here()) &&
          (has(mm, Fix::Z3foldStaleListHandling) || work_busy(mm, Hr(mm, stale).work, here())))
        stale = kNoPfn;
      if (stale != kNoPfn) {
        buddy_del_init(mm, pool, stale);  // list_del(&zhdr->buddy)
        // Before "fix stale list handling": clear_bit(NEEDS_COMPACTING, &page->private), with
        // page not yet the stale one: NULL, or a page the lookup took and gave up.
        if (!has(mm, Fix::Z3foldStaleListHandling)) {
          if (looked == kNoPfn)
            null_deref("page->private (z3fold_alloc's page, not yet set to the stale page)", 0x30);
          clear_priv(mm, NEEDS_COMPACTING, looked);
        }
        spin_unlock(p.stale_lock);
        if (can_sleep) cancel_work_sync(mm, Hr(mm, stale).work, here());
        page = stale;
      } else {
        spin_unlock(p.stale_lock);
      }
    }
    if (page == kNoPfn) page = alloc_pages(mm, gfp, 0, Owner::Z3fold);
    if (page == kNoPfn) return -ENOMEM;
    zhdr = init_z3fold_page(mm, page, bud == HEADLESS, pool, gfp);
    p.pages_nr++;
    if (bud == HEADLESS) {
      set_priv(mm, PAGE_HEADLESS, page);
    } else {
      if (!movable(mm)) {
        // until 1f862989b04a
      } else if (!has(mm, Fix::Z3foldLockBeforeSetMovable)) {  // 1f862989b04a: the page unlocked
        __SetPageMovable(mm, page, p.mapping);
      } else if (can_sleep) {
        lock_page(mm, page);
        __SetPageMovable(mm, page, p.mapping);
        unlock_page(mm, page);
      } else if (trylock_page(mm, page)) {
        __SetPageMovable(mm, page, p.mapping);
        unlock_page(mm, page);
      }
      z3fold_page_lock(mm, zhdr);
    }
  } else {
    page = zhdr;
  }
  if (bud != HEADLESS) {  // found:
    set_chunks(mm, zhdr, bud, chunks);
    add_to_unbuddied(mm, pool, zhdr);
  }
  // headless:
  spin_lock(p.lock);
  if (!has(mm, Fix::Z3foldNoLru)) {  // Add/move z3fold page to beginning of LRU
    if (page_lru_listed(mm, page)) list_del(mm, page, here());
    list_add(mm, page, p.lru, here());
  }
  *handle = encode_handle(mm, zhdr, bud);
  spin_unlock(p.lock);
  if (bud != HEADLESS) z3fold_page_unlock(mm, zhdr);
  Z(mm).handles[*handle] = {pool, 0, false};
  return 0;
}

void z3fold_free(Mm& mm, uint32_t pool, uint64_t handle) {
  Z(mm).handles[handle].freed = true;
  if (!per_cpu_lists(mm)) return z3fold_4_8::z3fold_free(mm, pool, handle);
  MODEL_FUNC("z3fold_free");
  Z3foldPool& p = pool_of(mm, pool);
  // 4a3ac9311dac: the header comes locked. Before, z3fold_free claimed the page the slot
  // named and then waited for its lock.
  const bool locked = inter_page(mm);
  const Pfn zhdr = locked ? get_z3fold_header(mm, handle) : handle_to_z3fold_header(mm, handle);
  const Pfn page = zhdr;
  // 5b6807de1144: the claim comes first; before, z3fold_free tested a reclaim's claim
  // (UNDER_RECLAIM in 4.19) after its kref_put.
  const bool claims_first = has(mm, Fix::Z3foldClaimInFree);
  const bool page_claimed = claims_first && test_and_set_priv(mm, PAGE_CLAIMED, page);
  if (test_priv(mm, PAGE_HEADLESS, page)) {
    // if a headless page is under reclaim, just leave (ca0246bb97c2; 4.19 freed it).
    const bool claimed = claims_first ? page_claimed : reclaim_races(mm) && test_and_set_priv(mm, PAGE_CLAIMED, page);
    if (!claimed) {
      if (!has(mm, Fix::Z3foldNoLru)) {
        spin_lock(p.lock);
        lru_del(mm, page);
        spin_unlock(p.lock);
      }
      put_z3fold_header(mm, zhdr);
      free_z3fold_page(mm, page, true);
      p.pages_nr--;
    }
    return;
  }
  // Non-headless case
  if (!locked) z3fold_page_lock(mm, zhdr);
  const z3fold_buddy bud = handle_to_buddy(mm, handle);
  Z3foldHeader& h = Hw(mm, zhdr);
  switch (bud) {
    case FIRST: h.first_chunks = 0; break;
    case MIDDLE:
      h.middle_chunks = 0;
      if (!reclaim_races(mm)) h.start_middle = 0;  // until ca0246bb97c2
      break;
    case LAST: h.last_chunks = 0; break;
    default:
      WARN(REPORT_FUNC_HERE(), BUG_SITE("WARN_ON(1)"), {"unknown bud " + std::to_string(bud)});
      put_z3fold_header(mm, zhdr);
      if (locked && !has(mm, Fix::Z3foldStricterLocking)) clear_priv(mm, PAGE_CLAIMED, page);
      return;
  }
  // 4a3ac9311dac: a handle of a page another claimed is left to it; before, always freed
  // (since 7c2b8baa61fe: before it a handle was no object of its own).
  if (slots_on(mm) && (!page_claimed || !locked)) free_handle(mm, handle, zhdr);
  if (put_z3fold(mm, zhdr, Release::LockedList)) return;
  // Since the lock-ups fix (4.17) a page under reclaim is left to it.
  if (claims_first ? page_claimed : has(mm, Fix::Z3foldReclaimLockups) && test_priv(mm, PAGE_CLAIMED, page)) {
    z3fold_page_unlock(mm, zhdr);
    return;
  }
  // From 1f862989b04a to dcf5aedb24f8 an isolated page was left to the migration.
  if ((movable(mm) && !has(mm, Fix::Z3foldStricterLocking) && PageIsolated(mm, page)) ||
      test_and_set_priv(mm, NEEDS_COMPACTING, page)) {
    if (claims_first)
      unclaim_and_unlock(mm, zhdr);  // put_z3fold_header: the page is not headless
    else
      z3fold_page_unlock(mm, zhdr);
    return;
  }
  if (Hr(mm, zhdr).cpu < 0) {  // || !cpu_online(zhdr->cpu): the model's CPUs stay online
    if (!has(mm, Fix::Z3foldFreeNoBuddyDel)) {
      spin_lock(p.lock);
      buddy_del_init(mm, pool, zhdr);
      spin_unlock(p.lock);
    }
    Hw(mm, zhdr).cpu = -1;
    if (has(mm, Fix::Z3foldKrefCompact)) kref_get(mm, zhdr);  // the compaction's (since 5d03a6613957)
    // Before 4a3ac9311dac the claim was cleared after the compaction, which saw it and left
    // the page off every unbuddied list.
    if (locked) clear_priv(mm, PAGE_CLAIMED, page);
    do_compact_page(mm, zhdr, true);
    if (!locked && claims_first) clear_priv(mm, PAGE_CLAIMED, page);
    return;
  }
  if (has(mm, Fix::Z3foldKrefCompact)) kref_get(mm, zhdr);
  if (!locked) {  // before 4a3ac9311dac: queue, unclaim, unlock
    queue_work(mm, p.compact_wq, Hr(mm, zhdr).work, here());
    if (claims_first) clear_priv(mm, PAGE_CLAIMED, page);
    return z3fold_page_unlock(mm, zhdr);
  }
  clear_priv(mm, PAGE_CLAIMED, page);
  queue_work(mm, p.compact_wq, Hr(mm, zhdr).work, here());  // queue_work_on(zhdr->cpu, ...)
  put_z3fold_header(mm, zhdr);
}

namespace z3fold_impl {

// zswap_entry_put, under tree->lock: the last reference erases the entry and frees its
// handle (zswap_free_entry -> zpool_free_handle).
void zswap_entry_put(Mm& mm, uint32_t pool, uint64_t handle) {
  sched(Op::Write, Access::Write, zswap_tree_obj(), here());
  Z3foldUserHandle& e = Z(mm).handles.at(handle);
  if (--e.refcount == 0) {
    e.in_tree = false;
    z3fold_free(mm, pool, handle);
  }
}

// zswap_get_swap_cache_page, as far as the model goes: __read_swap_cache_async finds the
// swap entry freed when its invalidation came after the writeback's lookup
// (zswap_frontswap_invalidate_page follows the swap count's drop to 0): false,
// ZSWAP_SWAPCACHE_FAIL, "no memory or invalidate happened". The model's tree entry stands
// for the swap count; otherwise a new swap cache page (ZSWAP_SWAPCACHE_NEW).
bool zswap_get_swap_cache_page(Mm& mm, uint64_t entry) {
  MODEL_FUNC("zswap_get_swap_cache_page");
  sched(Op::Read, Access::Read, zswap_tree_obj(), here());
  return Z(mm).handles.at(entry).in_tree;
}

// zswap_writeback_entry, zswap's evict handler, with z3fold's sleep_mapped: the object
// stays mapped to the end. It fails (-ENOMEM) when the entry was invalidated after its
// lookup; otherwise decompressing into a new swap cache page and writing it out are not
// modelled (they succeed).
int zswap_writeback_entry(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("zswap_writeback_entry");
  Z3fold& z = Z(mm);
  // "zswap: do not map same object twice" (5.4): mapped once, to the end; before, the
  // header's read and the decompression mapped it each.
  const bool map_once = has(mm, Fix::ZswapMapOnce);
  const uint64_t addr = z3fold_map(mm, pool, handle);
  const uint64_t owner = object_at(mm, addr, false).owner;  // zhdr->swpentry
  if (!map_once) z3fold_unmap(mm, pool, handle);
  spin_lock(z.zswap_tree_lock);
  sched(Op::Read, Access::Read, zswap_tree_obj(), here());
  auto it = z.handles.find(owner);
  if (it == z.handles.end() || !it->second.in_tree || it->second.freed) {  // the entry was invalidated
    spin_unlock(z.zswap_tree_lock);
    if (map_once) z3fold_unmap(mm, pool, handle);
    return 0;
  }
  it->second.refcount++;  // zswap_entry_find_get
  spin_unlock(z.zswap_tree_lock);
  if (!zswap_get_swap_cache_page(mm, owner)) {  // ZSWAP_SWAPCACHE_FAIL
    spin_lock(z.zswap_tree_lock);  // fail:
    zswap_entry_put(mm, pool, owner);
    spin_unlock(z.zswap_tree_lock);
    if (map_once) z3fold_unmap(mm, pool, handle);
    return -ENOMEM;
  }
  if (!map_once) {  // decompress: zpool_map_handle(entry->pool->zpool, entry->handle)
    object_at(mm, z3fold_map(mm, pool, owner), false);
    z3fold_unmap(mm, pool, owner);
  }
  spin_lock(z.zswap_tree_lock);
  zswap_entry_put(mm, pool, owner);  // drop local reference
  sched(Op::Read, Access::Read, zswap_tree_obj(), here());
  if (z.handles.at(owner).in_tree) zswap_entry_put(mm, pool, owner);  // written back: its own
  spin_unlock(z.zswap_tree_lock);
  if (map_once) z3fold_unmap(mm, pool, handle);
  return 0;
}

}  // namespace z3fold_impl

void zswap_invalidate(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("zswap_frontswap_invalidate_page");
  Z3fold& z = Z(mm);
  spin_lock(z.zswap_tree_lock);
  sched(Op::Read, Access::Read, zswap_tree_obj(), here());
  Z3foldUserHandle& e = z.handles.at(handle);
  if (e.in_tree) {  // zswap_rb_erase, then put
    e.in_tree = false;
    zswap_entry_put(mm, pool, handle);
  }
  spin_unlock(z.zswap_tree_lock);
}

namespace z3fold_impl {

// The walk before the retry fix of 5.4. 4.19 takes a headless page (leaving zhdr as it
// was), or one it can lock, which it marks UNDER_RECLAIM; 4.14's goes on past a page it
// locked and referenced (no break until the lock-ups fix of 4.17), to the list's end. ca0246bb97c2 claims each page before anything else and
// passes over one claimed already (a page it fails to lock keeps its claim), and sets zhdr
// before the headless test; 1f862989b04a passes over an isolated page too, and sets zhdr
// after that test. The kernel's page and zhdr are left as the walk left them: without a
// page taken, page is the last one looked at and zhdr may be an earlier retry's.
bool reclaim_take_early(Mm& mm, uint32_t pool, Pfn* page, Pfn* zhdr) {
  Z3foldPool& p = pool_of(mm, pool);
  const bool claims = reclaim_races(mm);
  for (Pfn pos = mm.lists[p.lru].last; pos != kNoPfn; pos = static_cast<const Mm&>(mm).page(pos).lru_prev) {
    *page = pos;
    if (claims && test_and_set_priv(mm, PAGE_CLAIMED, pos)) continue;
    if (movable(mm) && PageIsolated(mm, pos)) continue;
    if (claims && !movable(mm)) *zhdr = pos;
    if (test_priv(mm, PAGE_HEADLESS, pos)) return true;  // candidate found
    *zhdr = pos;
    if (!z3fold_page_trylock(mm, pos)) {
      if (claims) *zhdr = kNoPfn;
      continue;  // can't evict at this point
    }
    kref_get(mm, pos);
    buddy_del_init(mm, pool, pos);
    Hw(mm, pos).cpu = -1;
    if (!has(mm, Fix::Z3foldReclaimLockups)) continue;
    if (!claims) set_priv(mm, PAGE_CLAIMED, pos);  // set_bit(UNDER_RECLAIM, &page->private)
    return true;
  }
  return false;
}

// The walk from the retry fix of 5.4 to dcf5aedb24f8: claim each page before anything else, skip an isolated
// one, take a headless one, and a locked one (since 4a3ac9311dac, one without foreign
// handles). Returns whether a page was taken; on false, *zhdr says whether the walk ended
// for good (kNoPfn).
bool reclaim_take_claiming(Mm& mm, uint32_t pool, Pfn* page, Pfn* zhdr) {
  Z3foldPool& p = pool_of(mm, pool);
  for (Pfn pos = mm.lists[p.lru].last; pos != kNoPfn; pos = static_cast<const Mm&>(mm).page(pos).lru_prev) {
    // "this bit could have been set by free, in which case we pass over to the next page
    // in the pool."
    if (test_and_set_priv(mm, PAGE_CLAIMED, pos)) {
      *page = kNoPfn;
      continue;
    }
    if (PageIsolated(mm, pos)) {
      clear_priv(mm, PAGE_CLAIMED, pos);
      *page = kNoPfn;
      continue;
    }
    *page = *zhdr = pos;
    if (test_priv(mm, PAGE_HEADLESS, pos)) return true;
    if (!z3fold_page_trylock(mm, pos)) {
      clear_priv(mm, PAGE_CLAIMED, pos);
      *zhdr = kNoPfn;
      continue;  // can't evict at this point
    }
    if (inter_page(mm) && Hr(mm, pos).foreign_handles) {
      clear_priv(mm, PAGE_CLAIMED, pos);
      z3fold_page_unlock(mm, pos);
      *zhdr = kNoPfn;
      continue;  // can't evict such page
    }
    kref_get(mm, pos);
    buddy_del_init(mm, pool, pos);
    Hw(mm, pos).cpu = -1;
    return true;
  }
  return false;
}

// The walk since dcf5aedb24f8: claim a page only under its lock (a headless one, which has
// none, since 6d679578fe9c at once), and (until 04094226d6ce) reference it before the lock.
bool reclaim_take(Mm& mm, uint32_t pool, Pfn* page, Pfn* zhdr) {
  Z3foldPool& p = pool_of(mm, pool);
  const bool ref_under_lock = has(mm, Fix::Z3foldReclaimRefUnderLock);
  // list_for_each_prev(pos, &pool->lru): pool->lock keeps the list still.
  for (Pfn pos = mm.lists[p.lru].last; pos != kNoPfn; pos = static_cast<const Mm&>(mm).page(pos).lru_prev) {
    *page = *zhdr = pos;
    if (test_priv(mm, PAGE_HEADLESS, pos)) {
      // 6d679578fe9c: "we still need to test and set PAGE_CLAIMED to avoid racing with
      // z3fold_free(), so just do it now before leaving the loop."
      if (has(mm, Fix::Z3foldHeadlessReclaimClaim) && test_and_set_priv(mm, PAGE_CLAIMED, pos)) continue;
      return true;
    }
    if (!ref_under_lock) {  // kref_get_unless_zero
      Z3foldHeader& h = H(mm, pos, Op::AtomicRmw, here());
      if (h.refcount == 0) {
        *zhdr = kNoPfn;
        return false;
      }
      h.refcount++;
    }
    if (!z3fold_page_trylock(mm, pos)) {
      if (!ref_under_lock) put_z3fold(mm, pos, Release::Unlocked);
      *zhdr = kNoPfn;
      continue;  // can't evict at this point
    }
    if (Hr(mm, pos).foreign_handles || test_and_set_priv(mm, PAGE_CLAIMED, pos)) {
      if (ref_under_lock || !put_z3fold(mm, pos, Release::Locked)) z3fold_page_unlock(mm, pos);
      *zhdr = kNoPfn;
      continue;  // can't evict such page
    }
    buddy_del_init(mm, pool, pos);
    Hw(mm, pos).cpu = -1;
    if (ref_under_lock) kref_get(mm, pos);
    return true;
  }
  return false;
}

}  // namespace z3fold_impl

int z3fold_reclaim_page(Mm& mm, uint32_t pool, uint32_t retries) {
  if (!per_cpu_lists(mm)) return z3fold_4_8::z3fold_reclaim_page(mm, pool, retries);
  MODEL_FUNC("z3fold_reclaim_page");
  Z3foldPool& p = pool_of(mm, pool);
  // dcf5aedb24f8: reclaim claims a page under its lock and encodes the handles in slots of
  // its own, on its stack (HANDLES_NOFREE); from 4a3ac9311dac to it, in the page's, and it
  // freed them; before 4a3ac9311dac, in slots on its stack.
  const bool stricter = has(mm, Fix::Z3foldStricterLocking);
  const bool retry_fix = stricter || has(mm, Fix::Z3foldReclaimRetry);  // (dcf5aedb24f8 keeps its unclaims)
  const bool own_slots = stricter || (retry_fix && !inter_page(mm));
  int ret = inter_page(mm) ? -1 : 0;  // 0 until 4a3ac9311dac
  const uint32_t slots = own_slots ? new_slots(mm, pool, true) : 0;
  Pfn page = kNoPfn, zhdr = kNoPfn;  // (5.10's walk keeps zhdr from the last retry)
  spin_lock(p.lock);
  if (retries == 0) {  // (zswap always has an evict handler)
    spin_unlock(p.lock);
    return -EINVAL;
  }
  for (uint32_t i = 0; i < retries; ++i) {
    sched(Op::Read, Access::Read, list_obj(p.lru), here());
    if (list_empty(mm, p.lru)) {
      spin_unlock(p.lock);
      return -EINVAL;
    }
    if (stricter) zhdr = kNoPfn;
    const bool found = stricter     ? reclaim_take(mm, pool, &page, &zhdr)
                       : retry_fix  ? reclaim_take_claiming(mm, pool, &page, &zhdr)
                                    : reclaim_take_early(mm, pool, &page, &zhdr);
    if (zhdr == kNoPfn && reclaim_races(mm)) break;  // if (!zhdr) break; (since ca0246bb97c2)
    // A walk that ended without a page: since dcf5aedb24f8 on a claimed headless page,
    // which page and zhdr still point to, and reclaim goes on with it although another
    // claimed it (6d679578fe9c's claim leaves this); from the retry fix, page is NULL;
    // before it, the last page looked at, and zhdr an earlier one.
    if (!found && retry_fix && !stricter) null_deref("page->lru (the walk ended on claimed pages: page is NULL)", 0);
    list_del_init(mm, page, here());
    spin_unlock(p.lock);
    uint64_t first_handle = 0, middle_handle = 0, last_handle = 0;
    if (!test_priv(mm, PAGE_HEADLESS, page)) {
      // "We need encode the handles before unlocking, and use our local slots structure
      // because z3fold_free can zero out zhdr->slots"
      if (stricter) {
        sched(Op::Write, Access::Write, z3fold_slots_obj(slots), here());
        Z(mm).slots[slots - 1].slot = {};
      }
      const uint32_t into = own_slots || !slots_on(mm) ? slots : Hr(mm, zhdr).slots;  // (or encode_handle)
      if (Hr(mm, zhdr).first_chunks) first_handle = __encode_handle(mm, zhdr, into, FIRST);
      if (Hr(mm, zhdr).middle_chunks) middle_handle = __encode_handle(mm, zhdr, into, MIDDLE);
      if (Hr(mm, zhdr).last_chunks) last_handle = __encode_handle(mm, zhdr, into, LAST);
      // "it's safe to unlock here because we hold a reference to this page"
      z3fold_page_unlock(mm, zhdr);
    } else {
      // 4.19 sets zhdr after the headless test: NULL on the first retry (the handle 0,
      // nothing to evict), an earlier retry's page on a later one.
      first_handle = zhdr == kNoPfn ? 0 : encode_handle(mm, zhdr, HEADLESS);
    }
    // Issue the eviction callback(s); in the page's slots 4a3ac9311dac's reclaim frees each
    // handle it evicted.
    for (uint64_t h : {middle_handle, first_handle, last_handle}) {
      if (!h) continue;
      if ((ret = zswap_writeback_entry(mm, pool, h)) != 0) break;
      if (inter_page(mm) && !own_slots) free_handle(mm, h, zhdr);
    }
    // next:
    if (!has(mm, Fix::Z3foldReclaimLockups)) {
      // 4.14: under pool->lock, which the release of the page's last reference takes too.
      // Before "fix potential race in z3fold_reclaim_page" the lock came after the put, and
      // another task's put could release the page in between.
      const bool early = has(mm, Fix::Z3foldReclaimLockEarly);
      if (early) spin_lock(p.lock);
      if (test_priv(mm, PAGE_HEADLESS, page)) {
        if (ret == 0) {
          if (early) spin_unlock(p.lock);
          free_z3fold_page(mm, page, true);
          return 0;
        }
      } else if (put_z3fold(mm, zhdr, Release::Unlocked)) {
        if (early) spin_unlock(p.lock);
        return 0;
      }
      if (!early) spin_lock(p.lock);
      list_add(mm, page, p.lru, here());  // "Add to the beginning of LRU"
      continue;
    }
    if (test_priv(mm, PAGE_HEADLESS, page)) {
      if (ret == 0) {
        free_z3fold_page(mm, page, true);
        p.pages_nr--;
        return 0;
      }
      spin_lock(p.lock);
      list_add(mm, page, p.lru, here());
      spin_unlock(p.lock);
      if (retry_fix) clear_priv(mm, PAGE_CLAIMED, page);
    } else {
      const uint32_t zslots = Hr(mm, zhdr).slots;  // struct z3fold_buddy_slots *slots = zhdr->slots
      z3fold_page_lock(mm, zhdr);
      // Before the retry fix the claim (4.19: UNDER_RECLAIM) ends here, under the lock.
      if (!retry_fix) clear_priv(mm, PAGE_CLAIMED, page);
      if (put_z3fold(mm, zhdr, Release::Locked)) {
        if (stricter && zslots) free_slots(mm, zslots);  // kmem_cache_free(pool->c_handle, slots)
        return 0;
      }
      // "the page is still not completely free. Take the global pool lock then to be
      // able to add it back to the lru list"
      spin_lock(p.lock);
      list_add(mm, page, p.lru, here());
      spin_unlock(p.lock);
      if (has(mm, Fix::Z3foldPutbackUnbuddied) && buddy_empty(mm, zhdr)) add_to_unbuddied(mm, pool, zhdr);
      if (retry_fix)
        unclaim_and_unlock(mm, zhdr);
      else
        z3fold_page_unlock(mm, zhdr);
    }
    spin_lock(p.lock);  // "We started off locked to we need to lock the pool back"
  }
  spin_unlock(p.lock);
  return -EAGAIN;
}

uint64_t z3fold_map(Mm& mm, uint32_t pool, uint64_t handle) {
  if (!per_cpu_lists(mm)) return z3fold_4_8::z3fold_map(mm, pool, handle);
  MODEL_FUNC("z3fold_map");
  // Before 4a3ac9311dac: the page the slot names, locked once it is not headless.
  const bool locked = inter_page(mm);
  const Pfn zhdr = locked ? get_z3fold_header(mm, handle) : handle_to_z3fold_header(mm, handle);
  const Pfn page = zhdr;
  uint64_t addr = page_address(zhdr);
  if (!test_priv(mm, PAGE_HEADLESS, page)) {
    if (!locked) z3fold_page_lock(mm, zhdr);
    const z3fold_buddy buddy = handle_to_buddy(mm, handle);
    switch (buddy) {
      case FIRST:
        addr += ZHDR_SIZE_ALIGNED;
        break;
      case MIDDLE:
        addr += uint64_t(Hr(mm, zhdr).start_middle) << CHUNK_SHIFT;
        set_priv(mm, MIDDLE_CHUNK_MAPPED, page);
        break;
      case LAST:  // its size from the handle since ca0246bb97c2 (a freed object's is 0 in the header)
        addr += PAGE_SIZE - (uint64_t(reclaim_races(mm) ? handle_to_chunks(mm, handle) : Hr(mm, zhdr).last_chunks)
                             << CHUNK_SHIFT);
        break;
      default:
        WARN(REPORT_FUNC_HERE(), BUG_SITE("WARN_ON(1)"), {"unknown buddy id " + std::to_string(buddy)});
        addr = 0;
        break;
    }
    if (addr && movable(mm)) Hw(mm, zhdr).mapped_count++;
    if (!locked) z3fold_page_unlock(mm, zhdr);
  }
  if (locked) put_z3fold_header(mm, zhdr);
  return addr;
}

void z3fold_unmap(Mm& mm, uint32_t pool, uint64_t handle) {
  if (!per_cpu_lists(mm)) return z3fold_4_8::z3fold_unmap(mm, pool, handle);
  MODEL_FUNC("z3fold_unmap");
  const bool locked = inter_page(mm);  // as in z3fold_map
  const Pfn zhdr = locked ? get_z3fold_header(mm, handle) : handle_to_z3fold_header(mm, handle);
  const Pfn page = zhdr;
  if (test_priv(mm, PAGE_HEADLESS, page)) return;
  if (!locked) z3fold_page_lock(mm, zhdr);
  if (handle_to_buddy(mm, handle) == MIDDLE) clear_priv(mm, MIDDLE_CHUNK_MAPPED, page);
  if (movable(mm)) Hw(mm, zhdr).mapped_count--;
  if (locked)
    put_z3fold_header(mm, zhdr);
  else
    z3fold_page_unlock(mm, zhdr);
}

uint32_t z3fold_read_mapped(Mm& mm, uint64_t addr) {
  MODEL_FUNC("z3fold_read_mapped");
  return object_at(mm, addr, false).token;
}

void z3fold_write_mapped(Mm& mm, uint32_t pool, uint64_t handle, uint64_t addr, uint32_t token) {
  MODEL_FUNC("z3fold_write_mapped");
  (void)pool;
  object_at(mm, addr, true).token = token;
  Z(mm).handles[handle].written = token;
}

bool z3fold_page_isolate(Mm& mm, Pfn page, isolate_mode_t) {
  MODEL_FUNC("z3fold_page_isolate");
  VM_BUG_ON_PAGE(mm, !PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, PageIsolated(mm, page), page);
  // dcf5aedb24f8: isolation claims the page under its lock; before, from the retry fix of
  // 5.4, it refused a claimed page up front and claimed nothing.
  const bool claims = has(mm, Fix::Z3foldStricterLocking);
  if (test_priv(mm, PAGE_HEADLESS, page) ||
      (!claims && has(mm, Fix::Z3foldReclaimRetry) && test_priv(mm, PAGE_CLAIMED, page)))
    return false;
  const Pfn zhdr = page;
  z3fold_page_lock(mm, zhdr);
  bool ok = false;
  if (!test_priv(mm, NEEDS_COMPACTING, page) && !test_priv(mm, PAGE_STALE, page)) {
    const Z3foldHeader& h = Hr(mm, zhdr);
    if (!inter_page(mm) && h.mapped_count == 0) {
      // Before 4a3ac9311dac: the reference first, the unbuddied list without pool->lock,
      // and list_del (not _init) of the lru.
      const uint32_t pool = pool_id(mm, zhdr);
      kref_get(mm, zhdr);
      if (!buddy_empty(mm, zhdr)) buddy_del_init(mm, pool, zhdr);
      Z3foldPool& p = pool_of(mm, pool);
      spin_lock(p.lock);
      if (page_lru_listed(mm, page)) list_del(mm, page, here());
      spin_unlock(p.lock);
      ok = true;
    } else if (inter_page(mm) && h.mapped_count == 0 && h.foreign_handles == 0 &&
               (!claims || !test_and_set_priv(mm, PAGE_CLAIMED, page))) {
      const uint32_t pool = pool_id(mm, zhdr);
      Z3foldPool& p = pool_of(mm, pool);
      spin_lock(p.lock);
      if (!buddy_empty(mm, zhdr)) buddy_del_init(mm, pool, zhdr);
      if (!has(mm, Fix::Z3foldNoLru) && page_lru_listed(mm, page)) list_del_init(mm, page, here());
      spin_unlock(p.lock);
      kref_get(mm, zhdr);
      ok = true;
    }
  }
  z3fold_page_unlock(mm, zhdr);
  return ok;
}

int z3fold_page_migrate(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page, MigrateMode) {
  MODEL_FUNC("z3fold_page_migrate");
  (void)mapping;
  VM_BUG_ON_PAGE(mm, !PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, !PageIsolated(mm, page), page);
  const bool claimed = has(mm, Fix::Z3foldStricterLocking);  // by z3fold_page_isolate
  if (claimed)
    VM_BUG_ON_PAGE(mm, !test_priv(mm, PAGE_CLAIMED, page), page, "!test_bit(PAGE_CLAIMED, &page->private)");
  if (has(mm, Fix::Z3foldLockBeforeSetMovable)) VM_BUG_ON_PAGE(mm, !PageLocked(mm, newpage), newpage);
  const Pfn zhdr = page;
  const uint32_t pool = pool_id(mm, zhdr);
  Z3foldPool& p = pool_of(mm, pool);
  // Until be03074c9af2 it try-locked the page, which the migration holds locked: always
  // -EAGAIN (so its unlock_page calls after the trylock were never reached).
  if (!has(mm, Fix::Z3foldMigrateNoTrylock) && !trylock_page(mm, page)) return -EAGAIN;
  if (!z3fold_page_trylock(mm, zhdr)) return -EAGAIN;
  const Z3foldHeader& h = Hr(mm, zhdr);
  if (h.mapped_count != 0 || h.foreign_handles != 0) {
    if (claimed)
      unclaim_and_unlock(mm, zhdr);
    else
      z3fold_page_unlock(mm, zhdr);
    return -EBUSY;
  }
  const bool reinit = has(mm, Fix::Z3foldReinitAfterMigration);  // c92d2f38563d
  if (reinit && work_pending(mm, h.work, here())) {
    z3fold_page_unlock(mm, zhdr);
    return -EAGAIN;
  }
  const uint32_t old_work = h.work;
  const Pfn new_zhdr = newpage;
  {  // memcpy(new_zhdr, zhdr, PAGE_SIZE)
    sched(Op::Read, Access::Read, z3fold_header_obj(zhdr), here());
    const Z3foldPageMem& from = checked_mem(mm, zhdr, false, "z3fold page memory");
    sched(Op::Write, Access::Write, z3fold_header_obj(new_zhdr), here());
    const Z3foldPageMem copy = from;
    Z3foldPageMem& to = page_mem(mm, new_zhdr);
    const KasanObject life = to.life;
    to = copy;
    to.life = life;
    kasan_alloc(to.life);
  }
  sched(Op::Read, Access::Read, page_obj(page), here());
  write_priv(mm, newpage, mm.page(page).private_);  // newpage->private = page->private
  if (has(mm, Fix::Z3foldMigratedFlag))
    set_priv(mm, PAGE_MIGRATED, page);
  else
    write_priv(mm, page, 0);
  z3fold_page_unlock(mm, zhdr);
  {
    Z3foldHeader& nh = Hw(mm, new_zhdr);
    nh.page_lock = SpinLock{make_obj(z3obj::kPageLock, new_zhdr), kNoTask};  // spin_lock_init
    nh.work = init_work(mm, compact_page_work, new_zhdr, "z3fold compact_page_work");
    if (reinit) {
      // "z3fold_page_isolate() ensures that new_zhdr->buddy is empty, so we only have to
      // reinitialize it."
      nh.buddy = kZ3NoList;
    } else {
      // Before c92d2f38563d the copies: the work keeps the old one's PENDING bit, and the
      // empty buddy list head links to the old page's (list_empty() is false).
      mm.works[nh.work].pending = mm.works[old_work].pending;
      nh.buddy = kZ3CopiedFrom - int32_t(zhdr);
    }
  }
  const uint32_t new_mapping = has(mm, Fix::MovableOperations) ? pool_mapping(mm, pool) : page_mapping(mm, page);
  __ClearPageMovable(mm, page);
  get_page(mm, newpage);
  z3fold_page_lock(mm, new_zhdr);
  if (Hr(mm, new_zhdr).first_chunks) encode_handle(mm, new_zhdr, FIRST);
  if (Hr(mm, new_zhdr).last_chunks) encode_handle(mm, new_zhdr, LAST);
  if (Hr(mm, new_zhdr).middle_chunks) encode_handle(mm, new_zhdr, MIDDLE);
  set_priv(mm, NEEDS_COMPACTING, newpage);
  Hw(mm, new_zhdr).cpu = int16_t(smp_processor_id());
  if (!has(mm, Fix::Z3foldNoLru)) {
    spin_lock(p.lock);
    init_page_lru(mm, newpage);  // model: the new page's lru links are compaction's until here
    list_add(mm, newpage, p.lru, here());
    spin_unlock(p.lock);
  }
  __SetPageMovable(mm, newpage, new_mapping);
  z3fold_page_unlock(mm, new_zhdr);
  queue_work(mm, p.compact_wq, Hr(mm, new_zhdr).work, here());  // queue_work_on(new_zhdr->cpu, ...)
  if (has(mm, Fix::Z3foldMigratedFlag))
    write_priv(mm, page, 0);  // PAGE_CLAIMED and PAGE_MIGRATED are cleared now
  else if (claimed)
    clear_priv(mm, PAGE_CLAIMED, page);
  put_page(mm, page);
  return MIGRATEPAGE_SUCCESS;
}

void z3fold_page_putback(Mm& mm, Pfn page) {
  MODEL_FUNC("z3fold_page_putback");
  const Pfn zhdr = page;
  const uint32_t pool = pool_id(mm, zhdr);
  Z3foldPool& p = pool_of(mm, pool);
  z3fold_page_lock(mm, zhdr);
  if (!buddy_empty(mm, zhdr)) buddy_del_init(mm, pool, zhdr);  // without pool->lock, as the kernel
  init_page_lru(mm, page);
  if (put_z3fold(mm, zhdr, Release::Locked)) return;
  if (!has(mm, Fix::Z3foldNoLru)) {
    spin_lock(p.lock);
    list_add(mm, page, p.lru, here());
    spin_unlock(p.lock);
  }
  if (has(mm, Fix::Z3foldPutbackUnbuddied) && buddy_empty(mm, zhdr)) add_to_unbuddied(mm, pool, zhdr);
  if (has(mm, Fix::Z3foldStricterLocking)) clear_priv(mm, PAGE_CLAIMED, page);  // isolation's claim
  z3fold_page_unlock(mm, zhdr);
}

namespace z3fold_impl {
// What a live handle names: the header's address plus the buddy index (and a LAST
// object's size), in its slot or (before 7c2b8baa61fe) the handle itself.
uint64_t handle_addr(const Mm& mm, uint64_t handle) {
  if (!mm.cfg.has(Fix::Z3foldBuddySlots)) return handle;
  const Z3fold& z = drivers_of(mm).z3fold;
  const uint32_t id = handle_to_slots(handle);
  return id && id <= z.slots.size() ? z.slots[id - 1].slot[handle_idx(handle)] : 0;
}

// The start chunk of a live handle's object in its page `pfn` (what z3fold_map computes).
uint32_t object_chunk(const Mm& mm, uint64_t handle, Pfn pfn, const Z3foldPageMem& m) {
  if ((mm.page(pfn).private_ >> PAGE_HEADLESS) & 1) return 0;
  const uint64_t addr = handle_addr(mm, handle);
  const auto bud = z3fold_buddy((addr - m.hdr.first_num) & BUDDY_MASK);
  if (bud == MIDDLE) return m.hdr.start_middle;
  if (bud == LAST)
    return TOTAL_CHUNKS - (mm.cfg.has(Fix::Z3foldReclaimRaces) ? uint32_t((addr & (PAGE_SIZE - 1)) >> BUDDY_SHIFT)
                                                                : m.hdr.last_chunks);
  return zhdr_chunks(mm);
}
}  // namespace z3fold_impl

void zswap_write_header(Mm& mm, uint64_t handle) {
  const Pfn pfn = z3fold_page_of(mm, handle);
  Z3foldPageMem& m = page_mem(mm, pfn);
  m.data[object_chunk(mm, handle, pfn, m)].owner = handle;
}

Pfn z3fold_page_of(const Mm& mm, uint64_t handle) {
  if (mm.cfg.has(Fix::Z3foldBuddySlots) && headless_handle(handle)) return addr_to_zhdr(handle);
  const uint64_t addr = handle_addr(mm, handle);
  return addr ? addr_to_zhdr(addr) : kNoPfn;
}

std::vector<std::string> z3fold_check(const Mm& mm) {
  std::vector<std::string> out;
  const Z3fold& z = drivers_of(mm).z3fold;
  // Every handle a user still holds leads to a page of the pool holding what was written.
  for (const auto& [handle, u] : z.handles) {
    if (u.freed) continue;
    const Pfn pfn = z3fold_page_of(mm, handle);
    const Z3foldPageMem* m = pfn == kNoPfn ? nullptr : page_mem_if(mm, pfn);
    if (!m || m->life.freed || mm.page(pfn).owner != Owner::Z3fold) {
      out.push_back("handle " + std::to_string(handle) + " leads to pfn " + std::to_string(pfn) +
                    ", which is no z3fold page any more");
      continue;
    }
    if (u.written) {
      const uint32_t chunk = object_chunk(mm, handle, pfn, *m);
      if (m->data[chunk].token != u.written)
        out.push_back("handle " + std::to_string(handle) + ": pfn " + std::to_string(pfn) + " holds " +
                      std::to_string(m->data[chunk].token) + ", not the " + std::to_string(u.written) +
                      " written (data lost)");
    }
  }
  // A page with room for another object is on an unbuddied list, unless it is isolated,
  // claimed, stale or waiting for its compaction work ("The page will be leaked until next
  // compaction work, reclaim or migration is done": 6cf9a34967ed).
  for (Pfn pfn = 0; pfn < z.mem_of.size(); ++pfn) {
    const Z3foldPageMem* m = page_mem_if(mm, pfn);
    if (!m || m->life.freed || !m->hdr.pool || mm.page(pfn).owner != Owner::Z3fold) continue;
    const uint64_t priv = mm.page(pfn).private_;
    const uint64_t busy = (1u << PAGE_HEADLESS) | (1u << NEEDS_COMPACTING) | (1u << PAGE_STALE) |
                          (1u << PAGE_CLAIMED) | (1u << PAGE_MIGRATED);
    const Z3foldHeader& h = m->hdr;
    const bool room = h.first_chunks == 0 || h.last_chunks == 0 || h.middle_chunks == 0;
    if (!(priv & busy) && !((mm.page(pfn).flags >> PG_isolated) & 1) && room && h.buddy == kZ3NoList)
      out.push_back(std::string(kLeak) + "z3fold page pfn " + std::to_string(pfn) + " has " +
                    std::to_string(num_free_chunks(mm, h)) +
                    " free chunks but is on no unbuddied list: z3fold_alloc cannot use them "
                    "until the page's next free, compaction or migration");
  }
  // A slots array whose handles were all freed is freed with the last of them.
  if (z.slots.empty()) return out;  // (a clean teardown allocates nothing)
  std::vector<bool> referenced(z.slots.size() + 1);  // by a live page's zhdr->slots
  for (const auto& m : z.mem)
    if (!m.life.freed && m.hdr.slots) referenced[m.hdr.slots] = true;
  for (size_t i = 0; i < z.slots.size(); ++i) {
    if (!z.slots[i].allocated) continue;
    bool user_holds = false;
    for (uint32_t idx = 0; idx <= BUDDY_MASK; ++idx) {
      auto it = z.handles.find(slot_handle(uint32_t(i + 1), idx));
      if (it != z.handles.end() && !it->second.freed) user_holds = true;
    }
    if (!user_holds && !referenced[i + 1])
      out.push_back(std::string(kLeak) + "z3fold_buddy_slots " + std::to_string(i + 1) +
                    ": every handle in it was freed, but the slots were never freed");
  }
  return out;
}

}  // namespace pagesim::drivers
