// mm/zsmalloc.c of Linux 4.8 (48b4800a1c6a "zsmalloc: page migration support" and the
// series before it), with the v3 series' behaviour behind the fixes of mm/fixes.h.
// Function names and the order of checks are the kernel's; see zsmalloc.h for the layout.
#include "drivers/zsmalloc.h"

#include <algorithm>
#include <cstdio>
#include <span>
#include <tuple>
#include <utility>

#include "drivers/drivers.h"
#include "engine/intern.h"
#include "mm/invariants.h"
#include "mm/page_ops.h"
#include "mm/kswapd.h"
#include "mm/shrinker.h"

namespace pagesim::drivers {

using namespace zs;
using mm::kNoPfn;
using mm::MIGRATEPAGE_SUCCESS;
using mm::Mm;
using mm::Pfn;

std::string fullness_name(int fg, bool ratio_groups) {
  static const char* const names[] = {"empty", "almost_empty", "almost_full", "full"};
  if (ratio_groups) {
    if (fg < 0 || fg >= NR_FULLNESS_GROUPS) return "?";
    const int ratio = fg == ZS_INUSE_RATIO_100 ? 100 : fg == ZS_INUSE_RATIO_99 ? 99 : fg * 10;
    return "inuse_ratio_" + std::to_string(ratio);
  }
  return fg >= 0 && fg < NR_ZS_FULLNESS ? names[fg] : "?";
}

// ---- size classes (zs_create_pool's table; the same for every pool of a kernel) ----

struct ClassDef {
  uint32_t size, pages_per_zspage, objs_per_zspage, index;
};

struct ZsClassTable {
  std::vector<ClassDef> defs;                    // distinct classes, ascending index
  std::array<uint16_t, ZS_SIZE_CLASSES> slot{};  // pool->size_class[i] as a defs index
};

namespace {

// get_pages_per_zspage: the zspage size (1..4 pages) with the highest used percentage.
uint32_t get_pages_per_zspage(uint32_t class_size) {
  uint32_t max_usedpc = 0, max_usedpc_order = 1;
  for (uint32_t i = 1; i <= ZS_MAX_PAGES_PER_ZSPAGE; i++) {
    const uint32_t zspage_size = i * PAGE_SIZE;
    const uint32_t waste = zspage_size % class_size;
    const uint32_t usedpc = (zspage_size - waste) * 100 / zspage_size;
    if (usedpc > max_usedpc) {
      max_usedpc = usedpc;
      max_usedpc_order = i;
    }
  }
  return max_usedpc_order;
}

// calculate_zspage_chain_size (6260ae358345): the chain that wastes least, up to
// ZS_MAX_PAGES_PER_ZSPAGE (CONFIG_ZSMALLOC_CHAIN_SIZE since b46402fa894f). A power-of-2
// class takes one page (e1d1f3546913, which the least waste gives anyway).
uint32_t calculate_zspage_chain_size(uint32_t class_size, uint32_t max_pages) {
  uint32_t min_waste = UINT32_MAX, chain_size = 1;
  if ((class_size & (class_size - 1)) == 0) return chain_size;
  for (uint32_t i = 1; i <= max_pages; i++) {
    const uint32_t waste = (i * PAGE_SIZE) % class_size;
    if (waste < min_waste) {
      min_waste = waste;
      chain_size = i;
    }
  }
  return chain_size;
}

ZsClassTable make_class_table(uint32_t (*pages_of)(uint32_t size)) {
  ZsClassTable t;
  // zs_create_pool iterates downwards so a class can be merged into the larger class
  // with the same pages_per_zspage and objs_per_zspage (can_merge).
  std::vector<ClassDef> desc;
  for (int i = int(ZS_SIZE_CLASSES) - 1; i >= 0; i--) {
    const uint32_t size = std::min(ZS_MIN_ALLOC_SIZE + uint32_t(i) * ZS_SIZE_CLASS_DELTA, ZS_MAX_ALLOC_SIZE);
    const uint32_t pages = pages_of(size);
    const uint32_t objs = pages * PAGE_SIZE / size;
    if (!desc.empty() && desc.back().pages_per_zspage == pages && desc.back().objs_per_zspage == objs) {
      t.slot[size_t(i)] = uint16_t(desc.size() - 1);  // fixed below (ascending order)
      continue;
    }
    desc.push_back({size, pages, objs, uint32_t(i)});
    t.slot[size_t(i)] = uint16_t(desc.size() - 1);
  }
  const size_t n = desc.size();
  for (auto& s : t.slot) s = uint16_t(n - 1 - s);
  t.defs.assign(desc.rbegin(), desc.rend());
  return t;
}

// The classes a kernel's zs_create_pool makes: 4.8's, 6260ae358345's, b46402fa894f's.
const ZsClassTable& class_table(const mm::MmConfig& cfg) {
  static const ZsClassTable by_usedpc = make_class_table(get_pages_per_zspage);
  static const ZsClassTable chain4 = make_class_table(
      [](uint32_t size) { return calculate_zspage_chain_size(size, ZS_MAX_PAGES_PER_ZSPAGE); });
  static const ZsClassTable chain8 = make_class_table(
      [](uint32_t size) { return calculate_zspage_chain_size(size, CONFIG_ZSMALLOC_CHAIN_SIZE); });
  if (cfg.has(Fix::ZsChainSize8)) return chain8;
  return cfg.has(Fix::ZsChainSizeLeastWaste) ? chain4 : by_usedpc;
}

// get_size_class_index: the class index for a request (size includes the handle).
uint32_t get_size_class_index(size_t size) {
  uint32_t idx = 0;
  if (size > ZS_MIN_ALLOC_SIZE)
    idx = uint32_t((size - ZS_MIN_ALLOC_SIZE + ZS_SIZE_CLASS_DELTA - 1) / ZS_SIZE_CLASS_DELTA);
  return std::min(ZS_SIZE_CLASSES - 1, idx);
}

// ---- model plumbing ----

Zsmalloc& Z(Mm& mm) { return drivers_of(mm).zsmalloc; }

// The v3 series' zsmalloc (zs-free-atomic off): no struct zspage rwlock, only the two
// ALMOST fullness lists, zs_free freeing outside class->lock, isolate and migrate trying
// class->lock, migrate freezing the whole zspage.
bool v3(const Mm& mm) { return !mm.cfg.has(Fix::ZsFreeAtomic); }
bool vm_owns_isolated(const Mm& mm) { return mm.cfg.has(Fix::VmOwnsPgIsolated); }
// 5.17 (c4549b871102 with b475d42d2c43): pool->migrate_lock, no handle pin, and a zspage
// that stays on its list while a page of it is isolated.
bool migrate_lock_517(const Mm& mm) { return mm.cfg.has(Fix::ZsPoolMigrateLock); }
bool destroy_waits_isolated(const Mm& mm) {
  return mm.cfg.has(Fix::ZsDestroyWaitsIsolated) && !migrate_lock_517(mm);
}
ObjId pool_obj(uint32_t pool) { return make_obj(zsobj::kPool, pool); }
ObjId pool_stats_obj(uint32_t pool) { return make_obj(zsobj::kPoolStats, pool); }

bool in_task() {
  Sim* s = Sim::current();
  return s && s->current_task();
}

// The innermost model function of the running task: BUG_ON()s of inlined helpers
// (get_zspage, obj_to_head) are reported in their caller, as the kernel's RIP would be.
std::string current_function() {
  Sim* s = Sim::current();
  Task* t = s ? s->current_task() : nullptr;
  return t && !t->frames.empty() ? interned(t->frames.back()) : std::string("zsmalloc");
}

// A NULL pointer dereference (mm::null_deref with a computed description).
[[noreturn]] void null_deref(const std::string& what, uint64_t address) {
  mm::null_deref(what.c_str(), address);
}

// A dereference of an address the model cannot follow: a page beyond mem_map or a
// zspage beyond the cache, e.g. from a stale or corrupted obj value.
[[noreturn]] void bad_address(const std::string& what) {
  OOPS("unable to handle kernel paging request", {"(" + what + ")"});
}

// An access to the pool itself: KASAN's check that it was not freed.
ZsPool& pool_access(ZsPool& p) {
  kasan_check(p.life, "struct zs_pool", p.name);
  return p;
}

ZsPool& pool_of(Mm& mm, uint32_t pool) {
  Zsmalloc& z = Z(mm);
  if (pool >= z.nr_pools) bad_address("pool " + std::to_string(pool));
  return pool_access(z.pools[pool]);
}

// The lock that guards a class's lists and zspages: class->lock, or since c0547d0b6a4b the
// pool's one lock.
SpinLock& class_lock(Mm& mm, SizeClass& c) {
  return mm.cfg.has(Fix::ZsPoolLock) ? pool_of(mm, c.pool).lock : c.lock;
}
// The same for the pool's class in `slot`, which it leaves unwritten when the pool's lock
// stands for the class's (exploration then restores no class the walk only looked at).
SpinLock& class_lock(Mm& mm, ZsPool& p, size_t slot) {
  return mm.cfg.has(Fix::ZsPoolLock) ? pool_access(p).lock : p.classes.write(slot).lock;
}

// pool->migrate_lock (b475d42d2c43), its read or its write side; since c0547d0b6a4b the
// pool's one spinlock stands for it.
void pool_migrate_lock(Mm& mm, ZsPool& p, bool write, uint32_t line = here()) {
  if (mm.cfg.has(Fix::ZsPoolLock)) return spin_lock(p.lock, line);
  if (write)
    write_lock(p.migrate_lock, line);
  else
    read_lock(p.migrate_lock, line);
}
void pool_migrate_unlock(Mm& mm, ZsPool& p, bool write, uint32_t line = here()) {
  if (mm.cfg.has(Fix::ZsPoolLock)) return spin_unlock(p.lock, line);
  if (write)
    write_unlock(p.migrate_lock, line);
  else
    read_unlock(p.migrate_lock, line);
}

// zs_pool_dec_isolated (701d678599d0), called under class->lock when a zspage's last
// isolated page is put back or migrated.
void zs_pool_dec_isolated(Mm& mm, uint32_t pool) {
  ZsPool& p = pool_of(mm, pool);
  VM_BUG_ON(mm, atomic_read(p.isolated_pages, pool_obj(pool)) <= 0,
            "atomic_long_read(&pool->isolated_pages) <= 0");
  atomic_add_return<int64_t>(-1, p.isolated_pages, pool_obj(pool));
  // "There's no possibility of racing, since wait_for_isolated_drain() checks the
  // isolated count under &class->lock after enqueuing on migration_wait."
  if (atomic_read(p.isolated_pages, pool_obj(pool)) == 0) {
    sched(Op::Read, Access::Read, pool_obj(pool), here());
    if (p.destroying) wake_up(make_obj(zsobj::kMigrationWait, pool));  // wake_up_all
  }
}

Zspage& zspage_at(Mm& mm, uint32_t id) {
  Zsmalloc& z = Z(mm);
  if (id == 0) null_deref("struct zspage", 0);
  if (id >= z.zspages.size()) bad_address("zspage " + std::to_string(id));
  Zspage& zp = z.zspages[id];
  if (zp.life.freed) [[unlikely]]
    kasan_use_after_free(zp.life, "struct zspage", std::to_string(id), false);
  return zp;
}

SizeClass& class_of(ZsPool& p, uint32_t class_idx) {
  if (class_idx >= ZS_SIZE_CLASSES) bad_address("pool->size_class[" + std::to_string(class_idx) + "]");
  return p.classes.write(p.table->slot[class_idx]);
}

Pfn check_page(Mm& mm, Pfn pfn) {
  if (!mm.valid_pfn(pfn)) bad_address("struct page of pfn " + std::to_string(pfn));
  return pfn;
}

// ---- object locations ----

uint64_t location_to_obj(Pfn page, uint64_t obj_idx) {
  uint64_t obj = uint64_t(page) << OBJ_INDEX_BITS;
  obj |= obj_idx & OBJ_INDEX_MASK;
  obj <<= OBJ_TAG_BITS;
  return obj;
}

void obj_to_location(uint64_t obj, Pfn* page, uint32_t* obj_idx) {
  obj >>= OBJ_TAG_BITS;
  *page = Pfn(obj >> OBJ_INDEX_BITS);
  *obj_idx = uint32_t(obj & OBJ_INDEX_MASK);
}

// The first object index whose start lies in sub-page page_idx (what
// get_first_obj_offset computes as an offset).
uint32_t first_obj_of_page(uint32_t size, uint32_t page_idx) {
  return (page_idx * PAGE_SIZE + size - 1) / size;
}

// The slot of object obj_idx in the memory of the page holding its start.
uint32_t obj_slot(uint32_t size, uint32_t obj_idx) {
  const uint32_t page_idx = uint32_t((uint64_t(obj_idx) * size) >> PAGE_SHIFT);
  return obj_idx - first_obj_of_page(size, page_idx);
}

std::vector<ZsObjSlot>& page_mem(Mm& mm, Pfn page) {
  Zsmalloc& z = Z(mm);
  check_page(mm, page);
  // Grown to the highest pfn that held objects, not to the machine: exploration copies it.
  if (z.mem_of.size() <= page) z.mem_of.resize(size_t(page) + 1, 0);
  if (!z.mem_of[page]) {
    z.mem.emplace_back();  // a deque: the memory of other pages stays where it is
    z.mem_of[page] = uint32_t(z.mem.size());
  }
  return z.mem[z.mem_of[page] - 1];
}

ZsObjSlot& mem_slot(Mm& mm, Pfn page, uint32_t slot) {
  auto& m = page_mem(mm, page);
  if (slot >= m.size())
    bad_address("object " + std::to_string(slot) + " of pfn " + std::to_string(page) +
                ", which holds " + std::to_string(m.size()));
  return m[slot];
}

uint64_t handle_head(uint64_t handle) { return (handle << OBJ_TAG_BITS) | OBJ_ALLOCATED_TAG; }

// ---- struct page helpers of zsmalloc ----

bool PageHugeObject(Mm& mm, Pfn page, uint32_t line = here()) {
  return mm::PageFlag(mm, page, mm::PG_owner_priv_1, line);
}

uint32_t get_zspage(Mm& mm, Pfn page, uint32_t line = here());

// ZsHugePage(zspage) (a41ec880aa7b): set before the zspage is published and never
// changed, so reading it is no scheduling point.
bool ZsHugePage(Mm& mm, uint32_t id) { return zspage_at(mm, id).huge; }

// Whether the page's zspage holds one huge object: ZsHugePage(get_zspage(page)) since
// a41ec880aa7b, which follows page->private to the zspage; before, the page's own flag.
bool huge_object(Mm& mm, Pfn page, uint32_t line = here()) {
  if (!mm.cfg.has(Fix::ZsHugeInZspage)) return PageHugeObject(mm, page, line);
  return ZsHugePage(mm, get_zspage(mm, page, line));
}
// The same where the caller has the zspage (obj_malloc, replace_sub_page).
bool huge_zspage(Mm& mm, uint32_t id, Pfn page) {
  return mm.cfg.has(Fix::ZsHugeInZspage) ? ZsHugePage(mm, id) : PageHugeObject(mm, page);
}
// The same, for views and checks (no scheduling point, no outcome).
bool huge_object(const Mm& mm, Pfn page) {
  if (!mm.cfg.has(Fix::ZsHugeInZspage)) return (mm.page(page).flags >> mm::PG_owner_priv_1) & 1;
  const Zsmalloc& z = drivers_of(mm).zsmalloc;
  const uint64_t id = mm.page(page).private_;
  return id && id < z.zspages.size() && z.zspages[id].huge;
}

bool is_first_page(Mm& mm, Pfn page, uint32_t line = here()) { return mm::PagePrivate(mm, page, line); }

void set_page_private(Mm& mm, Pfn page, uint64_t v, uint32_t line = here()) {
  sched(Op::Write, Access::Write, mm::page_obj(page), line);
  mm.page(page).private_ = v;
}

// page->freelist: the next sub-page as pfn + 1 (0: NULL), or a huge object's header.
void set_freelist(Mm& mm, Pfn page, uint64_t v, uint32_t line = here()) {
  sched(Op::Write, Access::Write, mm::page_obj(page), line);
  mm.page(page).index = v;
}

uint64_t read_freelist(Mm& mm, Pfn page, uint32_t line = here()) {
  sched(Op::Read, Access::Read, mm::page_obj(page), line);
  return mm.page(page).index;
}

// get_zspage: page->private, with BUG_ON(zspage->magic != ZSPAGE_MAGIC). A page that
// zsmalloc already released has private 0: the dereference is an oops in the caller.
uint32_t get_zspage(Mm& mm, Pfn page, uint32_t line) {
  check_page(mm, page);
  sched(Op::Read, Access::Read, mm::page_obj(page), line);
  const uint64_t id = mm.page(page).private_;
  if (id == 0) null_deref("zspage->magic: page->private of pfn " + std::to_string(page) + " is NULL", 0);
  Zsmalloc& z = Z(mm);
  if (id >= z.zspages.size()) bad_address("page->private " + std::to_string(id));
  sched(Op::Read, Access::Read, zspage_obj(uint32_t(id)), line);
  if (z.zspages[id].magic != ZSPAGE_MAGIC)
    BUG(current_function().c_str(), BUG_SITE_IN("get_zspage", "BUG_ON(zspage->magic != ZSPAGE_MAGIC)"),
        {"zspage " + std::to_string(id) + " (freed)", mm::dump_page(mm, page)});
  return uint32_t(id);
}

Pfn get_first_page(Mm& mm, uint32_t id, uint32_t line = here()) {
  const Pfn first_page = zspage_at(mm, id).first_page;
  check_page(mm, first_page);
  VM_BUG_ON_PAGE(mm, !is_first_page(mm, first_page, line), first_page);
  return first_page;
}

Pfn get_next_page(Mm& mm, Pfn page, uint32_t line = here()) {
  if (huge_object(mm, page, line)) return kNoPfn;
  const uint64_t next = read_freelist(mm, page, line);
  return next ? Pfn(next - 1) : kNoPfn;
}

// The position of a sub-page in its zspage (get_first_obj_offset's walk).
uint32_t page_index_in_zspage(Mm& mm, uint32_t id, Pfn page) {
  uint32_t idx = 0;
  for (Pfn cursor = get_first_page(mm, id); cursor != page; cursor = get_next_page(mm, cursor)) {
    if (cursor == kNoPfn) bad_address("pfn " + std::to_string(page) + " is not in its zspage's chain");
    idx++;
  }
  return idx;
}

// ---- zspage fields (class->lock) ----

uint32_t get_zspage_inuse(Mm& mm, uint32_t id, uint32_t line = here()) {
  sched(Op::Read, Access::Read, zspage_obj(id), line);
  return zspage_at(mm, id).inuse;
}

void mod_zspage_inuse(Mm& mm, uint32_t id, int val, uint32_t line = here()) {
  sched(Op::Write, Access::Write, zspage_obj(id), line);
  zspage_at(mm, id).inuse += uint32_t(val);
}

uint64_t get_freeobj(Mm& mm, uint32_t id) { return zspage_at(mm, id).freeobj; }
void set_freeobj(Mm& mm, uint32_t id, uint64_t obj) { zspage_at(mm, id).freeobj = obj; }

// struct zspage's huge, fullness, class, isolated and magic bit-fields share one word.
// From c4549b871102 to 4b5d1e47b694, fullness was written under class->lock (pool->lock
// after c0547d0b6a4b) and isolated under the zspage lock: each write is then a load and a
// store of the whole word, a read point and a write point, and one can undo the other.
// Where one lock covers every writer, a single write point.
template <class Set>
void update_zspage_word(Mm& mm, uint32_t id, uint32_t line, Set&& set) {
  if (mm.cfg.has(Fix::ZsNoZspageIsolation) && !mm.cfg.has(Fix::ZsIsolationUnderPoolLock)) {
    sched(Op::Read, Access::Read, zspage_obj(id), line);
    const Zspage& old = zspage_at(mm, id);
    const auto word = std::tuple{old.huge, old.fullness, old.isolated, old.class_idx, old.magic};
    sched(Op::Write, Access::Write, zspage_obj(id), line);
    Zspage& z = zspage_at(mm, id);
    std::tie(z.huge, z.fullness, z.isolated, z.class_idx, z.magic) = word;
    return set(z);
  }
  sched(Op::Write, Access::Write, zspage_obj(id), line);
  set(zspage_at(mm, id));
}

bool is_zspage_isolated(Mm& mm, uint32_t id, uint32_t line = here()) {
  sched(Op::Read, Access::Read, zspage_obj(id), line);
  return zspage_at(mm, id).isolated != 0;
}

// Number of isolated sub-pages for *page migration* in this zspage (a 3-bit field).
// isolated:ISOLATED_BITS: 3 bits, and 5 with the 6.3 chains of up to 8 (4ff93b292c0b and
// b46402fa894f), which with every page isolated would overflow 3 ("it overflows zspage
// isolated counter, which is a 3 bit integer, so the max chain-size we can have is b111 ==
// 7", the review that found it, archive id 26314851843).
uint8_t isolated_mask(const Mm& mm) { return mm.cfg.has(Fix::ZsChainSize8) ? 31 : 7; }

void inc_zspage_isolation(Mm& mm, uint32_t id, uint32_t line = here()) {
  const uint8_t mask = isolated_mask(mm);
  update_zspage_word(mm, id, line, [mask](Zspage& z) { z.isolated = uint8_t((z.isolated + 1) & mask); });
}

void dec_zspage_isolation(Mm& mm, uint32_t id, uint32_t line = here()) {
  const Zspage& zspage = zspage_at(mm, id);
  if (migrate_lock_517(mm)) VM_BUG_ON(mm, zspage.isolated == 0, "zspage->isolated == 0");
  const uint8_t mask = isolated_mask(mm);
  update_zspage_word(mm, id, line, [mask](Zspage& z) { z.isolated = uint8_t((z.isolated - 1) & mask); });
}

void get_zspage_mapping(Mm& mm, uint32_t id, uint32_t* class_idx, int* fullness,
                        uint32_t line = here()) {
  sched(Op::Read, Access::Read, zspage_obj(id), line);
  const Zspage& z = zspage_at(mm, id);
  if (z.magic != ZSPAGE_MAGIC)
    BUG(current_function().c_str(),
        BUG_SITE_IN("get_zspage_mapping", "BUG_ON(zspage->magic != ZSPAGE_MAGIC)"),
        {"zspage " + std::to_string(id) + " (freed)"});
  *fullness = z.fullness;
  *class_idx = z.class_idx;
}

void set_zspage_mapping(Mm& mm, uint32_t id, uint32_t class_idx, int fullness, uint32_t line = here()) {
  update_zspage_word(mm, id, line, [&](Zspage& z) {
    z.class_idx = uint16_t(class_idx);
    z.fullness = uint8_t(fullness);
  });
}

// list_empty(&zspage->list): a zspage fresh from memset has a NULL list, not an empty one.
bool zspage_list_empty(Mm& mm, uint32_t id) { return zspage_at(mm, id).list == kZsNoList; }

// ---- handles (cache_alloc_handle's objects) ----

ZsHandle& handle_slot(Mm& mm, uint32_t pool, uint64_t handle) {
  ZsPool& p = pool_of(mm, pool);
  if (handle == 0) null_deref("*handle", 0);
  if (handle > p.handles.size()) bad_address("handle " + std::to_string(handle));
  return p.handles[handle - 1];
}

// KASAN's view of a handle: an access to a freed one ends the task, uaf:<function>.
void check_handle_live(const ZsHandle& s, uint32_t pool, uint64_t handle, bool write) {
  if (s.life.freed) [[unlikely]]
    kasan_use_after_free(s.life, "zs_handle", std::to_string(handle) + " (pool " + std::to_string(pool) + ")",
                         write);
}

// A new handle: KASAN's quarantine keeps a freed one from being reused, so the model
// never reuses one.
uint64_t cache_alloc_handle(Mm& mm, uint32_t pool) {
  ZsPool& p = pool_of(mm, pool);
  sched(Op::Write, Access::Write, pool_obj(pool), here());
  ZsHandle& s = p.handles.emplace_back();
  s.allocated = true;
  kasan_alloc(s.life);
  return p.handles.size();
}

// kmem_cache_free of the handle: a second free is KASAN's double-free.
void cache_free_handle(Mm& mm, uint32_t pool, uint64_t handle) {
  sched(Op::Write, Access::Write, zs_handle_obj(pool, handle), here());
  ZsHandle& s = handle_slot(mm, pool, handle);
  kasan_record_free(s.life, "zs_handle", handle);
  s.allocated = false;
}

uint64_t handle_to_obj(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("handle_to_obj");
  ZsHandle& s = handle_slot(mm, pool, handle);
  sched(Op::Read, Access::Read, zs_handle_obj(pool, handle), here());
  check_handle_live(s, pool, handle, false);
  return s.word;
}

// record_obj: WRITE_ONCE(*handle, obj). The pin bit is part of the word: writing an obj
// without it releases the pin, which a CPU spinning in pin_tag sees at once.
void record_obj(Mm& mm, uint32_t pool, uint64_t handle, uint64_t obj) {
  MODEL_FUNC("record_obj");
  ZsHandle& s = handle_slot(mm, pool, handle);
  sched(Op::Write, Access::Write, zs_handle_obj(pool, handle), here());
  check_handle_live(s, pool, handle, true);
  const bool unpins = (s.word & (uint64_t(1) << HANDLE_PIN_BIT)) && !(obj & (uint64_t(1) << HANDLE_PIN_BIT));
  s.word = obj;
  if (unpins && in_task()) Sim::current()->wake(zs_handle_obj(pool, handle));
}

int testpin_tag(Mm& mm, uint32_t pool, uint64_t handle) {
  ZsHandle& s = handle_slot(mm, pool, handle);
  const int pinned = test_bit(HANDLE_PIN_BIT, s.word, zs_handle_obj(pool, handle), here());
  check_handle_live(s, pool, handle, false);
  return pinned;
}

// Since 1b8320b620d6 the pin is a bit_spin_lock: preemption stays off while a handle is
// pinned. Before it, pin_tag looped on test_and_set_bit_lock with preemption on, and a
// task could be scheduled out holding pins.
BitLockKind pin_kind(const Mm& mm) {
  return mm.cfg.has(Fix::ZsPinBitSpinLock) ? BitLockKind::Spin : BitLockKind::Busy;
}

bool trypin_tag(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("trypin_tag");
  ZsHandle& s = handle_slot(mm, pool, handle);
  const bool pinned = bit_trylock(HANDLE_PIN_BIT, s.word, zs_handle_obj(pool, handle), pin_kind(mm), here());
  check_handle_live(s, pool, handle, true);
  return pinned;
}

void pin_tag(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("pin_tag");
  const BitLockKind kind = pin_kind(mm);
  ZsHandle& s = handle_slot(mm, pool, handle);
  bit_lock(HANDLE_PIN_BIT, s.word, zs_handle_obj(pool, handle), kind,
           kind == BitLockKind::Spin ? kBitSpinlock : "bit lock", here());
  check_handle_live(s, pool, handle, true);
}

void unpin_tag(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("unpin_tag");
  ZsHandle& s = handle_slot(mm, pool, handle);
  bit_unlock(HANDLE_PIN_BIT, s.word, zs_handle_obj(pool, handle), pin_kind(mm), here());
  check_handle_live(s, pool, handle, true);
}

// obj_to_head: the header of the slot-th object of a page (a huge object's is in
// page->index).
uint64_t obj_to_head(Mm& mm, Pfn page, uint32_t slot) {
  if (huge_object(mm, page)) {
    VM_BUG_ON_PAGE(mm, !is_first_page(mm, page), page);
    return read_freelist(mm, page);
  }
  sched(Op::Read, Access::Read, mm::page_obj(page), here());
  return mem_slot(mm, page, slot).head;
}

// ---- the migrate lock (zspage->lock) ----

void migrate_lock_init(Zspage& z, uint32_t id) {
  z.lock = RwLock{};
  z.lock.id = zspage_obj(id);
}
// v3 had no zspage->lock: the handle pin and the zspage freeze were the only exclusion.
void migrate_read_lock(Mm& mm, uint32_t id) {
  if (!v3(mm)) read_lock(zspage_at(mm, id).lock, here());
}
void migrate_read_unlock(Mm& mm, uint32_t id) {
  if (!v3(mm)) read_unlock(zspage_at(mm, id).lock, here());
}
void migrate_write_lock(Mm& mm, uint32_t id) { write_lock(zspage_at(mm, id).lock, here()); }
void migrate_write_unlock(Mm& mm, uint32_t id) { write_unlock(zspage_at(mm, id).lock, here()); }

// ---- fullness groups ----

bool ratio_groups(const Mm& mm) { return mm.cfg.has(Fix::ZsInuseRatioGroups); }

// get_fullness_group's arithmetic: 4.8's four groups, or 4c7ac97285d8's ratio groups.
int fullness_of(uint32_t inuse, uint32_t objs_per_zspage, bool ratio_groups) {
  if (inuse == 0) return ZS_EMPTY;
  if (inuse == objs_per_zspage) return ratio_groups ? ZS_INUSE_RATIO_100 : ZS_FULL;
  // Integer division: one object in use of 127 is a ratio of 0, which belongs in
  // ZS_INUSE_RATIO_10.
  if (ratio_groups) return int(100 * inuse / objs_per_zspage / 10 + 1);
  if (inuse <= 3 * objs_per_zspage / fullness_threshold_frac) return ZS_ALMOST_EMPTY;
  return ZS_ALMOST_FULL;
}

int get_fullness_group(Mm& mm, const SizeClass& c, uint32_t id) {
  return fullness_of(get_zspage_inuse(mm, id), c.objs_per_zspage, ratio_groups(mm));
}

// Which fullness groups are lists: all four since struct zspage (v4 08/12); before, only
// the two ALMOST groups (insert/remove_zspage returned for fullness >= _ZS_NR_FULLNESS_GROUPS).
bool fullness_listed(const mm::MmConfig& cfg, int fullness) {
  return cfg.has(Fix::ZsFreeAtomic) || fullness == ZS_ALMOST_EMPTY || fullness == ZS_ALMOST_FULL;
}

// zs_stat_inc / zs_stat_dec: a class's object counters, under its lock. What
// zs_shrinker_count reads: kswapd looks again after a change (mm/kswapd.h).
void zs_stat_inc(Mm& mm, SizeClass& c, zs_stat_type type, uint64_t cnt) {
  c.stats[type] += cnt;
  mm::kswapd_note_change(mm);
}
void zs_stat_dec(Mm& mm, SizeClass& c, zs_stat_type type, uint64_t cnt) {
  c.stats[type] -= cnt;
  mm::kswapd_note_change(mm);
}

// insert_zspage: "We want to see more ZS_FULL pages and less almost empty/full. Put
// pages with higher ->inuse first." Since a40a71e8343e, at the head.
void insert_zspage(Mm& mm, SizeClass& c, uint32_t id, int fullness) {
  if (!fullness_listed(mm.cfg, fullness)) {
    zspage_at(mm, id).list = kZsNoList;  // v3: INIT_LIST_HEAD, on no list
    return;
  }
  sched(Op::ListAdd, Access::Write, zspage_obj(id), here());
  c.stats[size_t(fullness)]++;
  FullnessLists& l = c.fullness_list;
  const size_t fg = size_t(fullness);
  Zspage& z = zspage_at(mm, id);
  // list_add(&zspage->list, &head->list), or list_add(&zspage->list, &class->fullness_list[fg])
  const bool behind_head = !mm.cfg.has(Fix::ZsInsertAtHead) && !l.empty(fg) &&
                           z.inuse < zspage_at(mm, l.front(fg)).inuse;
  l.insert(fg, behind_head ? 1 : 0, id);
  z.list = int8_t(fullness);
}

// list_del_init(&zspage->list): unlinks the zspage from whichever list it is on.
void zspage_list_del(Mm& mm, SizeClass& c, uint32_t id, int8_t after) {
  Zspage& z = zspage_at(mm, id);
  if (z.list == kZsZeroed) null_deref("zspage->list.next (zspage never linked)", 8);
  if (z.list == kZsPoisoned) OOPS("general protection fault: list_del of LIST_POISON", {"zspage->list"});
  if (z.list >= 0) c.fullness_list.erase(size_t(z.list), id);
  z.list = after;
}

void remove_zspage(Mm& mm, SizeClass& c, uint32_t id, int fullness) {
  if (!fullness_listed(mm.cfg, fullness)) return;
  VM_BUG_ON(mm, c.fullness_list.empty(size_t(fullness)), "list_empty(&class->fullness_list[fullness])");
  if (!migrate_lock_517(mm)) VM_BUG_ON(mm, is_zspage_isolated(mm, id), "is_zspage_isolated(zspage)");
  sched(Op::ListDel, Access::Write, zspage_obj(id), here());
  zspage_list_del(mm, c, id, kZsNoList);
  c.stats[size_t(fullness)]--;
}

// fix_fullness_group: moves the zspage between lists only if it is not isolated (since
// c4549b871102 an isolated zspage stays on its list); the fullness is recorded either way.
int fix_fullness_group(Mm& mm, SizeClass& c, uint32_t id) {
  uint32_t class_idx;
  int currfg;
  get_zspage_mapping(mm, id, &class_idx, &currfg);
  const int newfg = get_fullness_group(mm, c, id);
  if (newfg == currfg) return newfg;
  if (migrate_lock_517(mm) || !is_zspage_isolated(mm, id)) {
    remove_zspage(mm, c, id, currfg);
    insert_zspage(mm, c, id, newfg);
  }
  set_zspage_mapping(mm, id, class_idx, newfg);
  return newfg;
}

int putback_zspage(Mm& mm, SizeClass& c, uint32_t id) {
  if (!migrate_lock_517(mm)) VM_BUG_ON(mm, is_zspage_isolated(mm, id), "is_zspage_isolated(zspage)");
  const int fullness = get_fullness_group(mm, c, id);
  insert_zspage(mm, c, id, fullness);
  set_zspage_mapping(mm, id, c.index, fullness);
  return fullness;
}

bool zspage_full(Mm& mm, const SizeClass& c, uint32_t id) {
  return get_zspage_inuse(mm, id) == c.objs_per_zspage;
}

// ---- zspage life cycle ----

uint32_t cache_alloc_zspage(Mm& mm, uint32_t pool) {
  Zsmalloc& z = Z(mm);
  uint32_t id;
  if (!z.free_zspages.empty()) {
    id = z.free_zspages.back();
    z.free_zspages.pop_back();
  } else {
    if (z.zspages.empty()) z.zspages.emplace_back();  // id 0: NULL
    z.zspages.emplace_back();
    id = uint32_t(z.zspages.size() - 1);
  }
  sched(Op::Write, Access::Write, zspage_obj(id), here());
  Zspage& zp = z.zspages[id];
  zp = Zspage{};  // memset(zspage, 0, sizeof(struct zspage))
  zp.list = kZsZeroed;
  // v3 kept the metadata in first_page->freelist, NULL until set_zspage_mapping: class 0
  // and fullness 0, which is ZS_ALMOST_FULL in v3's enum; its list head was initialised.
  if (v3(mm)) {
    zp.fullness = ZS_ALMOST_FULL;
    zp.list = kZsNoList;
  }
  zp.allocated = true;
  zp.pool = pool;
  kasan_alloc(zp.life);
  return id;
}

void cache_free_zspage(Mm& mm, uint32_t id) {
  sched(Op::Write, Access::Write, zspage_obj(id), here());
  Zspage& z = zspage_at(mm, id);
  z.allocated = false;
  z.magic = 0;  // the slab's free pointer overwrites the first word
  kasan_record_free(z.life, "struct zspage", id);
  Z(mm).free_zspages.push_back(id);
}

// reset_page: what the page must look like before zsmalloc releases it. v4.8 clears the
// movable mapping under the page lock; the v3 series (driver-owned PG_isolated) kept
// PG_movable on an isolated page for the VM to clear and dropped PG_isolated itself.
void reset_page(Mm& mm, Pfn page) {
  MODEL_FUNC("reset_page");
  if (vm_owns_isolated(mm)) {
    mm::__ClearPageMovable(mm, page);
  } else {
    if (!mm::PageIsolated(mm, page)) mm::__ClearPageMovable(mm, page);
    mm::ClearPageFlag(mm, page, mm::PG_isolated);  // ClearPageIsolated
  }
  mm::ClearPageFlag(mm, page, mm::PG_private);
  mm::ClearPageFlag(mm, page, mm::PG_private_2);
  set_page_private(mm, page, 0);
  if (!mm.cfg.has(Fix::ZsHugeInZspage)) mm::ClearPageFlag(mm, page, mm::PG_owner_priv_1);  // ClearPageHugeObject
  set_freelist(mm, page, 0);
  page_mem(mm, page).clear();  // the page's memory no longer holds zsmalloc objects
}

// To prevent zspage destroy during migration, zspage freeing should hold locks of all
// pages in the zspage.
// Before 2505a981114d it slept in lock_page on each page of the chain in turn; since
// c4549b871102 a page of an empty zspage can be migrated meanwhile, off the chain.
void lock_zspage(Mm& mm, uint32_t id) {
  MODEL_FUNC("lock_zspage");
  if (!mm.cfg.has(Fix::ZsLockZspageMigrateLock)) {
    Pfn page = get_first_page(mm, id);
    do {
      mm::lock_page(mm, page);
    } while ((page = get_next_page(mm, page)) != kNoPfn);
    return;
  }
  // Pages we haven't locked yet can be migrated off the list while we're trying to lock
  // them, so only attempt to lock each page under migrate_read_lock(), and take a
  // reference to a page before waiting for it to unlock outside migrate_read_lock().
  Pfn curr_page, page;
  for (;;) {
    migrate_read_lock(mm, id);
    page = get_first_page(mm, id);
    if (mm::trylock_page(mm, page)) break;
    mm::get_page(mm, page);
    migrate_read_unlock(mm, id);
    mm::wait_on_page_locked(mm, page);
    mm::put_page(mm, page);
  }
  curr_page = page;
  while ((page = get_next_page(mm, curr_page)) != kNoPfn) {
    if (mm::trylock_page(mm, page)) {
      curr_page = page;
    } else {
      mm::get_page(mm, page);
      migrate_read_unlock(mm, id);
      mm::wait_on_page_locked(mm, page);
      mm::put_page(mm, page);
      migrate_read_lock(mm, id);
    }
  }
  migrate_read_unlock(mm, id);
}

// The v3 series' lock_zspage in free_zspage: a trylock retried until it succeeds, so
// that zs_free never sleeps (it spins instead).
void lock_zspage_spinning(Mm& mm, uint32_t id) {
  MODEL_FUNC("lock_zspage");
  Pfn page = get_first_page(mm, id);
  do {
    while (!mm::trylock_page(mm, page)) {
      if (!in_task())
        throw UsageError("set-up code found the page lock of pfn " + std::to_string(page) +
                         " held; set-up runs outside any task and cannot wait");
      // A busy-wait: preemptible unless the caller holds a spinlock.
      Sim::current()->block({mm::page_obj(page), "page lock (spinning trylock)", true, false, true});
    }
  } while ((page = get_next_page(mm, page)) != kNoPfn);
}

bool trylock_zspage(Mm& mm, uint32_t id) {
  MODEL_FUNC("trylock_zspage");
  Pfn cursor, fail = kNoPfn;
  for (cursor = get_first_page(mm, id); cursor != kNoPfn; cursor = get_next_page(mm, cursor)) {
    if (!mm::trylock_page(mm, cursor)) {
      fail = cursor;
      goto unlock;
    }
  }
  return true;
unlock:
  for (cursor = get_first_page(mm, id); cursor != fail; cursor = get_next_page(mm, cursor))
    mm::unlock_page(mm, cursor);
  return false;
}

void kick_deferred_free(Mm& mm, uint32_t pool) { schedule_work(mm, pool_of(mm, pool).free_work, here()); }

void __free_zspage(Mm& mm, uint32_t pool, SizeClass& c, uint32_t id) {
  MODEL_FUNC("__free_zspage");
  uint32_t class_idx;
  int fg;
  get_zspage_mapping(mm, id, &class_idx, &fg);
  if (!spin_is_locked(class_lock(mm, c)))
    BUG(REPORT_FUNC("__free_zspage"), mm.cfg.has(Fix::ZsPoolLock)
                                          ? BUG_SITE("assert_spin_locked(&pool->lock)")
                                          : BUG_SITE("assert_spin_locked(&class->lock)"));
  VM_BUG_ON(mm, get_zspage_inuse(mm, id), "get_zspage_inuse(zspage)");
  VM_BUG_ON(mm, fg != ZS_EMPTY);
  Pfn next, page;
  next = page = get_first_page(mm, id);
  do {
    VM_BUG_ON_PAGE(mm, !mm::PageLocked(mm, page), page);
    next = get_next_page(mm, page);
    reset_page(mm, page);
    mm::unlock_page(mm, page);
    mm.stat(mm::Stat::NR_ZSPAGES)--;  // dec_zone_page_state(page, NR_ZSPAGES)
    mm::put_page(mm, page);
    page = next;
  } while (page != kNoPfn);
  cache_free_zspage(mm, id);
  zs_stat_dec(mm, c, OBJ_ALLOCATED, c.objs_per_zspage);
  pool_of(mm, pool).pages_allocated -= c.pages_per_zspage;
}

// ---- the v3 series' zspage free (zs-free-atomic off) ----

// v3 free_zspage (13/16, 14/16): lock every page with a busy trylock, then reset, unlock
// and put each, the first page last. Its callers update the stats; zs_free calls it
// after dropping class->lock ("deadlock between page_lock and class->lock with upcoming
// page migration", Minchan Kim, 19 Apr 2016).
void free_zspage_v3(Mm& mm, uint32_t id) {
  MODEL_FUNC("free_zspage");
  VM_BUG_ON(mm, get_zspage_inuse(mm, id), "get_zspage_inuse(zspage)");
  lock_zspage_spinning(mm, id);
  const Pfn first_page = get_first_page(mm, id);
  Pfn nextp = get_next_page(mm, first_page);
  const auto release = [&](Pfn page) {
    reset_page(mm, page);
    mm::unlock_page(mm, page);
    mm.stat(mm::Stat::NR_ZSPAGES)--;
    mm::put_page(mm, page);
  };
  while (nextp != kNoPfn) {
    const Pfn tmp = nextp;
    nextp = get_next_page(mm, nextp);
    release(tmp);
  }
  release(first_page);
  cache_free_zspage(mm, id);  // the metadata lived in the first page
}

void free_zspage(Mm& mm, uint32_t pool, SizeClass& c, uint32_t id) {
  if (v3(mm)) {
    zs_stat_dec(mm, c, OBJ_ALLOCATED, c.objs_per_zspage);
    pool_of(mm, pool).pages_allocated -= c.pages_per_zspage;
    return free_zspage_v3(mm, id);
  }
  MODEL_FUNC("free_zspage");
  VM_BUG_ON(mm, get_zspage_inuse(mm, id), "get_zspage_inuse(zspage)");
  VM_BUG_ON(mm, zspage_list_empty(mm, id), "list_empty(&zspage->list)");
  if (!trylock_zspage(mm, id)) {
    kick_deferred_free(mm, pool);
    return;
  }
  remove_zspage(mm, c, id, ZS_EMPTY);
  __free_zspage(mm, pool, c, id);
}

void SetZsPageMovable(Mm& mm, uint32_t pool, uint32_t id) {
  MODEL_FUNC("SetZsPageMovable");
  Pfn page = get_first_page(mm, id);
  const uint32_t mapping = pool_of(mm, pool).mapping;
  do {
    if (!mm::trylock_page(mm, page))
      WARN(REPORT_FUNC("SetZsPageMovable"), BUG_SITE("WARN_ON(!trylock_page(page))"));
    mm::__SetPageMovable(mm, page, mapping);
    mm::unlock_page(mm, page);
  } while ((page = get_next_page(mm, page)) != kNoPfn);
}

// create_page_chain: page->private points to the zspage, page->freelist links the
// pages; PG_private marks the first page, PG_private_2 the last.
void create_page_chain(Mm& mm, const SizeClass& c, uint32_t id, const std::vector<Pfn>& pages) {
  Pfn prev_page = kNoPfn;
  const size_t nr_pages = c.pages_per_zspage;
  for (size_t i = 0; i < nr_pages; i++) {
    const Pfn page = pages[i];
    set_page_private(mm, page, id);
    set_freelist(mm, page, 0);
    if (i == 0) {
      zspage_at(mm, id).first_page = page;
      mm::SetPageFlag(mm, page, mm::PG_private);
      if (c.objs_per_zspage == 1 && c.pages_per_zspage == 1) {
        if (mm.cfg.has(Fix::ZsHugeInZspage))
          zspage_at(mm, id).huge = true;  // SetZsHugePage(zspage)
        else
          mm::SetPageFlag(mm, page, mm::PG_owner_priv_1);  // SetPageHugeObject
      }
    } else {
      set_freelist(mm, prev_page, uint64_t(page) + 1);
    }
    if (i == nr_pages - 1) mm::SetPageFlag(mm, page, mm::PG_private_2);
    prev_page = page;
  }
}

// init_zspage: link every object into the free list (object k -> k + 1).
void init_zspage(Mm& mm, uint32_t pool, const SizeClass& c, uint32_t id) {
  Pfn page = get_first_page(mm, id);
  uint32_t page_idx = 0;
  const uint32_t mapping = pool_of(mm, pool).mapping;
  while (page != kNoPfn) {
    if (!mm.cfg.has(Fix::ZsMovableAfterSetup)) {
      // v3: each page becomes movable here, before the zspage is on any list.
      if (!mm::trylock_page(mm, page))
        BUG(REPORT_FUNC("init_zspage"), BUG_SITE("BUG_ON(!trylock_page(page))"));
      mm::__SetPageMovable(mm, page, mapping);
      mm::unlock_page(mm, page);
    }
    const uint32_t first = first_obj_of_page(c.size, page_idx);
    const uint32_t end = std::min(first_obj_of_page(c.size, page_idx + 1), c.objs_per_zspage);
    sched(Op::Write, Access::Write, mm::page_obj(page), here());
    auto& m = page_mem(mm, page);
    m.assign(end > first ? end - first : 0, ZsObjSlot{});
    for (uint32_t k = first; k < end; k++)
      m[k - first].head = k + 1 < c.objs_per_zspage ? uint64_t(k + 1) << OBJ_TAG_BITS : kFreeListEnd;
    page = get_next_page(mm, page);
    page_idx++;
  }
  set_freeobj(mm, id, 0);
}

uint32_t alloc_zspage(Mm& mm, uint32_t pool, const SizeClass& c, mm::gfp_t gfp) {
  MODEL_FUNC("alloc_zspage");
  const uint32_t id = cache_alloc_zspage(mm, pool);
  {
    Zspage& z = zspage_at(mm, id);
    z.magic = ZSPAGE_MAGIC;
    migrate_lock_init(z, id);
  }
  std::vector<Pfn> pages(c.pages_per_zspage, kNoPfn);
  for (int i = 0; i < int(c.pages_per_zspage); i++) {
    const Pfn page = mm::alloc_pages(mm, gfp, 0, mm::Owner::Zsmalloc);
    if (page == kNoPfn) {
      while (--i >= 0) {
        mm.stat(mm::Stat::NR_ZSPAGES)--;
        mm::__free_pages(mm, pages[size_t(i)], 0);
      }
      cache_free_zspage(mm, id);
      return 0;
    }
    mm.stat(mm::Stat::NR_ZSPAGES)++;
    pages[size_t(i)] = page;
  }
  create_page_chain(mm, c, id, pages);
  init_zspage(mm, pool, c, id);
  return id;
}

uint32_t find_get_zspage(Mm& mm, uint32_t pool, SizeClass& c) {
  sched(Op::Read, Access::Read, zs_class_obj(pool, c.index), here());
  for (int i = ratio_groups(mm) ? ZS_INUSE_RATIO_99 : ZS_ALMOST_FULL; i >= ZS_EMPTY; i--)
    if (!c.fullness_list.empty(size_t(i))) return c.fullness_list.front(size_t(i));
  return 0;
}

// ---- objects ----

uint64_t obj_malloc(Mm& mm, SizeClass& c, uint32_t id, uint64_t handle) {
  MODEL_FUNC("obj_malloc");
  const uint64_t head = handle_head(handle);
  sched(Op::Read, Access::Read, zspage_obj(id), here());
  const uint64_t obj = get_freeobj(mm, id);
  if (obj >= c.objs_per_zspage) bad_address("free object " + std::to_string(obj) + " of zspage " + std::to_string(id));
  const uint64_t offset = obj * c.size;
  const uint64_t nr_page = offset >> PAGE_SHIFT;
  Pfn m_page = get_first_page(mm, id);
  for (uint64_t i = 0; i < nr_page; i++) {
    m_page = get_next_page(mm, m_page);
    if (m_page == kNoPfn) null_deref("page->freelist", 0);
  }
  const uint32_t slot = obj_slot(c.size, uint32_t(obj));
  sched(Op::Write, Access::Write, mm::page_obj(m_page), here());
  ZsObjSlot& link = mem_slot(mm, m_page, slot);
  set_freeobj(mm, id, link.head >> OBJ_TAG_BITS);
  if (!huge_zspage(mm, id, m_page)) {
    mem_slot(mm, m_page, slot).head = head;  // record handle in the header of the chunk
  } else {
    set_freelist(mm, zspage_at(mm, id).first_page, head);  // record handle to page->index
  }
  mod_zspage_inuse(mm, id, 1);
  zs_stat_inc(mm, c, OBJ_USED, 1);
  return location_to_obj(m_page, obj);
}

void obj_free(Mm& mm, SizeClass& c, uint64_t obj) {
  MODEL_FUNC("obj_free");
  obj &= ~OBJ_ALLOCATED_TAG;
  Pfn f_page;
  uint32_t f_objidx;
  obj_to_location(obj, &f_page, &f_objidx);
  const uint32_t id = get_zspage(mm, f_page);
  // Insert this object in the containing zspage's freelist.
  sched(Op::Write, Access::Write, mm::page_obj(f_page), here());
  mem_slot(mm, f_page, obj_slot(c.size, f_objidx)).head = get_freeobj(mm, id) << OBJ_TAG_BITS;
  set_freeobj(mm, id, f_objidx);
  mod_zspage_inuse(mm, id, -1);
  zs_stat_dec(mm, c, OBJ_USED, 1);
}

void zs_object_copy(Mm& mm, const SizeClass& c, uint64_t dst, uint64_t src) {
  MODEL_FUNC("zs_object_copy");
  Pfn s_page, d_page;
  uint32_t s_objidx, d_objidx;
  obj_to_location(src, &s_page, &s_objidx);
  obj_to_location(dst, &d_page, &d_objidx);
  sched(Op::Read, Access::Read, mm::page_obj(check_page(mm, s_page)), here());
  const uint32_t content = mem_slot(mm, s_page, obj_slot(c.size, s_objidx)).content;
  sched(Op::Write, Access::Write, mm::page_obj(check_page(mm, d_page)), here());
  mem_slot(mm, d_page, obj_slot(c.size, d_objidx)).content = content;
}

// ---- compaction (zs_compact) ----

struct zs_compact_control {
  Pfn s_page = kNoPfn;  // source sub-page
  Pfn d_page = kNoPfn;  // first page of the destination zspage
  uint32_t obj_idx = 0; // object index within s_page to start from
};

// find_alloced_obj: the first allocated object of the page from *obj_idx whose handle
// could be pinned (since b475d42d2c43, the first allocated one: nothing pins handles).
uint64_t find_alloced_obj(Mm& mm, Pfn page, uint32_t* obj_idx, uint32_t pool) {
  MODEL_FUNC("find_alloced_obj");
  uint32_t index = *obj_idx;
  uint64_t handle = 0;
  const uint32_t n = uint32_t(page_mem(mm, page).size());
  for (; index < n; index++) {
    const uint64_t head = obj_to_head(mm, page, index);
    if (head & OBJ_ALLOCATED_TAG) {
      handle = head >> OBJ_TAG_BITS;
      if (migrate_lock_517(mm) || trypin_tag(mm, pool, handle)) break;
      handle = 0;
    }
  }
  *obj_idx = index;
  return handle;
}

// The next allocated object from (s_page, obj_idx) on, along the zspage's chain
// (find_alloced_obj, then the next page); 0 at the chain's end, where s_page is NULL.
uint64_t next_alloced_obj(Mm& mm, uint32_t pool, Pfn& s_page, uint32_t& obj_idx) {
  for (;;) {
    const uint64_t handle = find_alloced_obj(mm, s_page, &obj_idx, pool);
    if (handle) return handle;
    s_page = get_next_page(mm, s_page);
    if (s_page == kNoPfn) return 0;
    obj_idx = 0;
  }
}

int migrate_zspage(Mm& mm, uint32_t pool, SizeClass& c, zs_compact_control& cc) {
  MODEL_FUNC("migrate_zspage");
  Pfn s_page = cc.s_page;
  const Pfn d_page = cc.d_page;
  uint32_t obj_idx = cc.obj_idx;
  int ret = 0;
  for (;;) {
    const uint64_t handle = next_alloced_obj(mm, pool, s_page, obj_idx);
    if (!handle) break;
    // Stop if there is no more space.
    const bool pinned = !migrate_lock_517(mm);
    if (zspage_full(mm, c, get_zspage(mm, d_page))) {
      if (pinned) unpin_tag(mm, pool, handle);
      ret = -ENOMEM;
      break;
    }
    const uint64_t used_obj = handle_to_obj(mm, pool, handle);
    uint64_t free_obj = obj_malloc(mm, c, get_zspage(mm, d_page), handle);
    zs_object_copy(mm, c, free_obj, used_obj);
    obj_idx++;
    // record_obj updates the handle's value to free_obj, which would clear the lock bit
    // (HANDLE_PIN_BIT) and break synchronization with pin_tag users such as zs_free:
    // keep the lock bit (c102f07ca0b0).
    if (pinned && mm.cfg.has(Fix::ZsCompactKeepsPinBit)) free_obj |= uint64_t(1) << HANDLE_PIN_BIT;
    record_obj(mm, pool, handle, free_obj);
    if (pinned) unpin_tag(mm, pool, handle);
    obj_free(mm, c, used_obj);
  }
  // Remember the last position in this iteration.
  cc.s_page = s_page;
  cc.obj_idx = obj_idx;
  return ret;
}

// isolate_zspage: a source from the emptier of the two ALMOST groups first, a destination
// from the fuller; since 4c7ac97285d8 (isolate_src_zspage / isolate_dst_zspage), the
// same over the ratio groups 10 to 99.
uint32_t isolate_zspage(Mm& mm, SizeClass& c, bool source) {
  const bool ratio = ratio_groups(mm);
  const int first = ratio ? ZS_INUSE_RATIO_10 : ZS_ALMOST_EMPTY;
  const int last = ratio ? ZS_INUSE_RATIO_99 : ZS_ALMOST_FULL;
  for (int i = 0; i <= last - first; i++) {
    const int fg = source ? first + i : last - i;
    if (c.fullness_list.empty(size_t(fg))) continue;
    const uint32_t id = c.fullness_list.front(size_t(fg));
    if (!ratio && !migrate_lock_517(mm)) VM_BUG_ON(mm, is_zspage_isolated(mm, id), "is_zspage_isolated(zspage)");
    remove_zspage(mm, c, id, fg);
    return id;
  }
  return 0;
}

// zs_can_compact: pages that compaction could free in this class.
uint64_t zs_can_compact(const SizeClass& c) {
  const uint64_t obj_allocated = c.stats[OBJ_ALLOCATED];
  const uint64_t obj_used = c.stats[OBJ_USED];
  if (obj_allocated <= obj_used) return 0;
  uint64_t obj_wasted = obj_allocated - obj_used;
  obj_wasted /= c.objs_per_zspage;
  return obj_wasted * c.pages_per_zspage;
}

// pool->stats.pages_compacted += n before 239592815805: a plain read-modify-write of a
// pool word under one class's lock only, so compactions of two classes can lose an update.
void pages_compacted_add(Mm& mm, uint32_t pool, uint64_t n) {
  ZsPool& p = pool_of(mm, pool);
  sched(Op::Read, Access::Read, pool_stats_obj(pool), here());
  const uint64_t v = p.pages_compacted;
  sched(Op::Write, Access::Write, pool_stats_obj(pool), here());
  p.pages_compacted = v + n;
}

// A source compaction emptied: freed, and its pages counted (in the caller's pages_freed
// since 239592815805; before, in the pool's stat).
void free_compacted_zspage(Mm& mm, uint32_t pool, SizeClass& c, uint32_t src_zspage,
                           uint64_t& pages_freed) {
  free_zspage(mm, pool, c, src_zspage);
  pool_of(mm, pool).compaction_freed += c.pages_per_zspage;
  if (mm.cfg.has(Fix::ZsCompactCountsLocally))
    pages_freed += c.pages_per_zspage;
  else
    pages_compacted_add(mm, pool, c.pages_per_zspage);
}

// migrate_zspage as 6.6 has it: moves the source's objects into the destination until
// one is full or the other empty. (5a845e9f2d66 checked for room before each object and
// scanned on; ada5caed79b3, 4ce36584da19 and df9cd3cbf209 moved the checks: the same
// moves, under pool->lock and both zspages' write locks.)
void migrate_zspage_one_dst(Mm& mm, uint32_t pool, SizeClass& c, uint32_t src_zspage,
                            uint32_t dst_zspage) {
  MODEL_FUNC("migrate_zspage");
  uint32_t obj_idx = 0;
  Pfn s_page = get_first_page(mm, src_zspage);
  for (;;) {
    const uint64_t handle = next_alloced_obj(mm, pool, s_page, obj_idx);
    if (!handle) break;
    const uint64_t used_obj = handle_to_obj(mm, pool, handle);
    const uint64_t free_obj = obj_malloc(mm, c, dst_zspage, handle);
    zs_object_copy(mm, c, free_obj, used_obj);
    obj_idx++;
    record_obj(mm, pool, handle, free_obj);
    obj_free(mm, c, used_obj);
    // Stop if there is no more space.
    if (zspage_full(mm, c, dst_zspage)) break;
    // Stop if there are no more objects to migrate.
    if (get_zspage_inuse(mm, src_zspage) == 0) break;
  }
}

// __zs_compact since 5a845e9f2d66 (6.4): under pool->lock, one destination (the fullest)
// takes objects from the emptiest sources until it is full or someone waits for the
// lock. Before f7ddb6125683, a source that was put back but not freed stayed in
// src_zspage, and the end of the function put it back and unlocked it again.
uint64_t __zs_compact_one_dst(Mm& mm, uint32_t pool, SizeClass& c) {
  uint32_t src_zspage = 0, dst_zspage = 0;
  uint64_t pages_freed = 0;
  // protect the race between zpage migration and zs_free as well as zpage allocation/free
  spin_lock(class_lock(mm, c));
  while (zs_can_compact(c)) {
    if (!dst_zspage) {
      dst_zspage = isolate_zspage(mm, c, false);
      if (!dst_zspage) break;
      migrate_write_lock(mm, dst_zspage);
    }
    src_zspage = isolate_zspage(mm, c, true);
    if (!src_zspage) break;
    migrate_write_lock(mm, src_zspage);  // migrate_write_lock_nested
    migrate_zspage_one_dst(mm, pool, c, src_zspage, dst_zspage);
    const int fg = putback_zspage(mm, c, src_zspage);
    migrate_write_unlock(mm, src_zspage);
    if (fg == ZS_INUSE_RATIO_0) {
      free_compacted_zspage(mm, pool, c, src_zspage, pages_freed);
      src_zspage = 0;
    }
    if (mm.cfg.has(Fix::ZsCompactResetSrc)) src_zspage = 0;
    if (get_fullness_group(mm, c, dst_zspage) == ZS_INUSE_RATIO_100 ||
        spin_is_contended(class_lock(mm, c))) {
      putback_zspage(mm, c, dst_zspage);
      migrate_write_unlock(mm, dst_zspage);
      dst_zspage = 0;
      spin_unlock(class_lock(mm, c));
      // cond_resched()
      spin_lock(class_lock(mm, c));
    }
  }
  if (src_zspage) {
    putback_zspage(mm, c, src_zspage);
    migrate_write_unlock(mm, src_zspage);
  }
  if (dst_zspage) {
    putback_zspage(mm, c, dst_zspage);
    migrate_write_unlock(mm, dst_zspage);
  }
  spin_unlock(class_lock(mm, c));
  return pages_freed;
}

// Returns the pages it freed (239592815805; before, it added them to the pool's stat).
// Since b475d42d2c43 (as in 6.1) it holds pool->migrate_lock for writing around
// class->lock, write-locks each zspage it moves objects between, and gives a class up
// when someone waits for pool->migrate_lock.
uint64_t __zs_compact(Mm& mm, uint32_t pool, SizeClass& c) {
  MODEL_FUNC("__zs_compact");
  if (mm.cfg.has(Fix::ZsCompactOneDst)) return __zs_compact_one_dst(mm, pool, c);
  zs_compact_control cc;
  uint32_t src_zspage;
  uint32_t dst_zspage = 0;
  uint64_t pages_freed = 0;
  // Since c0547d0b6a4b the pool's one lock stands for both.
  const bool zspage_locks = migrate_lock_517(mm);
  RwLock* const migrate_lock =
      zspage_locks && !mm.cfg.has(Fix::ZsPoolLock) ? &pool_of(mm, pool).migrate_lock : nullptr;
  // protect the race between zpage migration and zs_free
  if (migrate_lock) write_lock(*migrate_lock);
  spin_lock(class_lock(mm, c));
  while ((src_zspage = isolate_zspage(mm, c, true))) {
    // protect someone accessing the zspage (i.e., zs_map_object)
    if (zspage_locks) migrate_write_lock(mm, src_zspage);
    if (!zs_can_compact(c)) break;
    cc.obj_idx = 0;
    cc.s_page = get_first_page(mm, src_zspage);
    while ((dst_zspage = isolate_zspage(mm, c, false))) {
      if (zspage_locks) migrate_write_lock(mm, dst_zspage);  // migrate_write_lock_nested
      cc.d_page = get_first_page(mm, dst_zspage);
      // If there is no more space in dst_page, resched and see if anyone had allocated
      // another zspage.
      if (!migrate_zspage(mm, pool, c, cc)) break;
      putback_zspage(mm, c, dst_zspage);
      if (zspage_locks) {
        migrate_write_unlock(mm, dst_zspage);
        dst_zspage = 0;
        if (migrate_lock ? rwlock_is_contended(*migrate_lock) : spin_is_contended(class_lock(mm, c)))
          break;
      }
    }
    // Stop if we couldn't find slot.
    if (dst_zspage == 0) break;
    putback_zspage(mm, c, dst_zspage);
    if (zspage_locks) migrate_write_unlock(mm, dst_zspage);
    const bool empty = putback_zspage(mm, c, src_zspage) == ZS_EMPTY;
    if (zspage_locks) migrate_write_unlock(mm, src_zspage);
    if (empty) free_compacted_zspage(mm, pool, c, src_zspage, pages_freed);
    spin_unlock(class_lock(mm, c));
    if (migrate_lock) write_unlock(*migrate_lock);
    // cond_resched()
    if (migrate_lock) write_lock(*migrate_lock);
    spin_lock(class_lock(mm, c));
  }
  if (src_zspage) {
    putback_zspage(mm, c, src_zspage);
    if (zspage_locks) migrate_write_unlock(mm, src_zspage);
  }
  spin_unlock(class_lock(mm, c));
  if (migrate_lock) write_unlock(*migrate_lock);
  return pages_freed;
}

// ---- migration helpers ----

// putback_zspage_deferred (1a87aa03597e; zs_page_putback did this before it): the page
// lock held by migration keeps an empty zspage from being freed here, so queue its free.
void putback_zspage_deferred(Mm& mm, uint32_t pool, SizeClass& c, uint32_t id) {
  if (putback_zspage(mm, c, id) == ZS_EMPTY) schedule_work(mm, pool_of(mm, pool).free_work, here());
}

// ---- the v3 series' isolation state and zspage freeze ----

// ZsPageIsolate (PG_uptodate of the first page in v3): the zspage is off its list because
// a sub-page is isolated. The model keeps it in zspage->isolated as 0 or 1, so
// fix_fullness_group's is_zspage_isolated is v3's ZsPageIsolate.
void SetZsPageIsolate(Mm& mm, uint32_t id) {
  sched(Op::Write, Access::Write, zspage_obj(id), here());
  zspage_at(mm, id).isolated = 1;
}
void ClearZsPageIsolate(Mm& mm, uint32_t id) {
  sched(Op::Write, Access::Write, zspage_obj(id), here());
  zspage_at(mm, id).isolated = 0;
}

// check_isolated_page (v3 15/16): is any sub-page PG_isolated?
bool check_isolated_page(Mm& mm, uint32_t id) {
  for (Pfn cursor = get_first_page(mm, id); cursor != kNoPfn; cursor = get_next_page(mm, cursor))
    if (mm::PageIsolated(mm, cursor)) return true;
  return false;
}

// trylock_zspage / unlock_zspage of v3 15/16: every page but @locked_page, which the
// caller holds.
bool trylock_zspage_except(Mm& mm, uint32_t id, Pfn locked_page) {
  MODEL_FUNC("trylock_zspage");
  Pfn cursor, fail = kNoPfn;
  for (cursor = get_first_page(mm, id); cursor != kNoPfn; cursor = get_next_page(mm, cursor)) {
    if (cursor != locked_page && !mm::trylock_page(mm, cursor)) {
      fail = cursor;
      goto unlock;
    }
  }
  return true;
unlock:
  for (cursor = get_first_page(mm, id); cursor != fail; cursor = get_next_page(mm, cursor))
    if (cursor != locked_page) mm::unlock_page(mm, cursor);
  return false;
}

void unlock_zspage(Mm& mm, uint32_t id, Pfn locked_page) {
  MODEL_FUNC("unlock_zspage");
  for (Pfn cursor = get_first_page(mm, id); cursor != kNoPfn; cursor = get_next_page(mm, cursor)) {
    VM_BUG_ON_PAGE(mm, !mm::PageLocked(mm, cursor), cursor);
    if (cursor != locked_page) mm::unlock_page(mm, cursor);
  }
}

// The header of object obj_idx of the zspage (objidx_to_page_and_offset + obj_to_head).
uint64_t zspage_obj_head(Mm& mm, const SizeClass& c, uint32_t id, uint32_t obj_idx) {
  Pfn page = get_first_page(mm, id);
  for (uint32_t i = uint32_t((uint64_t(obj_idx) * c.size) >> PAGE_SHIFT); i > 0; i--) {
    page = get_next_page(mm, page);
    if (page == kNoPfn) null_deref("page->freelist", 0);
  }
  return obj_to_head(mm, page, obj_slot(c.size, obj_idx));
}

// freeze_zspage (v3 12/16): pin every allocated object, so that none can be freed or
// mapped until unfreeze. Stops at the first pin it cannot take; returns the pins taken.
uint32_t freeze_zspage(Mm& mm, uint32_t pool, const SizeClass& c, uint32_t id) {
  MODEL_FUNC("freeze_zspage");
  uint32_t nr_freeze = 0;
  for (uint32_t obj_idx = 0; obj_idx < c.objs_per_zspage; obj_idx++) {
    const uint64_t head = zspage_obj_head(mm, c, id, obj_idx);
    if (head & OBJ_ALLOCATED_TAG) {
      if (!trypin_tag(mm, pool, head >> OBJ_TAG_BITS)) break;
      nr_freeze++;
    }
  }
  return nr_freeze;
}

void unfreeze_zspage(Mm& mm, uint32_t pool, const SizeClass& c, uint32_t id, uint32_t nr_obj) {
  MODEL_FUNC("unfreeze_zspage");
  uint32_t nr_unfreeze = 0;
  for (uint32_t obj_idx = 0; obj_idx < c.objs_per_zspage && nr_unfreeze < nr_obj; obj_idx++) {
    const uint64_t head = zspage_obj_head(mm, c, id, obj_idx);
    if (head & OBJ_ALLOCATED_TAG) {
      const uint64_t handle = head >> OBJ_TAG_BITS;
      VM_BUG_ON(mm, !testpin_tag(mm, pool, handle), "!testpin_tag(handle)");
      unpin_tag(mm, pool, handle);
      nr_unfreeze++;
    }
  }
}

// ---- the v3 series' zs_compact (12/16 and 15/16; zs-compact-under-class-lock off) ----

// isolate_source_page / isolate_target_page: the head of a fullness list, with every page
// locked and every object pinned, off its list. Source: ZS_ALMOST_EMPTY first; target:
// ZS_ALMOST_FULL first.
uint32_t isolate_frozen_zspage(Mm& mm, uint32_t pool, SizeClass& c, bool source) {
  const int order[2][2] = {{ZS_ALMOST_FULL, ZS_ALMOST_EMPTY}, {ZS_ALMOST_EMPTY, ZS_ALMOST_FULL}};
  for (const int i : order[source]) {
    sched(Op::Read, Access::Read, zs_class_obj(pool, c.index), here());
    if (c.fullness_list[size_t(i)].empty()) continue;
    const uint32_t id = c.fullness_list[size_t(i)].front();
    // To prevent race between object and page migration.
    if (!trylock_zspage_except(mm, id, kNoPfn)) continue;
    remove_zspage(mm, c, id, i);
    const uint32_t inuse = get_zspage_inuse(mm, id);
    const uint32_t freezed = freeze_zspage(mm, pool, c, id);
    if (inuse != freezed) {
      unfreeze_zspage(mm, pool, c, id, freezed);
      putback_zspage(mm, c, id);
      unlock_zspage(mm, id, kNoPfn);
      continue;
    }
    return id;
  }
  return 0;
}
uint32_t isolate_source_page(Mm& mm, uint32_t pool, SizeClass& c) {
  MODEL_FUNC("isolate_source_page");
  return isolate_frozen_zspage(mm, pool, c, true);
}
uint32_t isolate_target_page(Mm& mm, uint32_t pool, SizeClass& c) {
  MODEL_FUNC("isolate_target_page");
  return isolate_frozen_zspage(mm, pool, c, false);
}

// migrate_zspage (v3): moves objects from src to dst with no lock held; a moved handle
// keeps its pin, now counted in dst.
uint32_t migrate_zspage_v3(Mm& mm, uint32_t pool, SizeClass& c, uint32_t dst, uint32_t src) {
  MODEL_FUNC("migrate_zspage");
  uint32_t nr_migrated = 0;
  for (uint32_t i = 0; i < c.objs_per_zspage; i++) {
    const uint64_t head = zspage_obj_head(mm, c, src, i);  // handle_from_obj
    if (!(head & OBJ_ALLOCATED_TAG)) continue;
    if (zspage_full(mm, c, dst)) break;
    const uint64_t handle = head >> OBJ_TAG_BITS;
    const uint64_t old_obj = handle_to_obj(mm, pool, handle);
    const uint64_t new_obj = obj_malloc(mm, c, dst, handle);
    zs_object_copy(mm, c, new_obj, old_obj);
    nr_migrated++;
    // Keep the lock bit: record_obj would clear HANDLE_PIN_BIT.
    record_obj(mm, pool, handle, new_obj | (uint64_t(1) << HANDLE_PIN_BIT));
    obj_free(mm, c, old_obj);
  }
  return nr_migrated;
}

// The frozen zspage goes back on its list, unpinned and unlocked (class->lock held).
void release_frozen_zspage(Mm& mm, uint32_t pool, SizeClass& c, uint32_t id) {
  putback_zspage(mm, c, id);
  unfreeze_zspage(mm, pool, c, id, c.objs_per_zspage);
  unlock_zspage(mm, id, kNoPfn);
}

// v3 __zs_compact: class->lock only to pick and to put back; the objects move with it
// dropped, every object of both zspages pinned and their pages locked. A context that is
// scheduled out there keeps the pins: zs_free's pin_tag, under zram's swap_info lock,
// spins on them (Chulmin Kim, 4 Apr 2016, on v3 12/16: "I think CPU A and CPU B may not
// be released forever.").
void __zs_compact_v3(Mm& mm, uint32_t pool, SizeClass& c) {
  MODEL_FUNC("__zs_compact");
  uint32_t src = 0, dst = 0;
  ZsPool& p = pool_of(mm, pool);
  for (;;) {
    spin_lock(class_lock(mm, c));
    if (!zs_can_compact(c)) {
      spin_unlock(class_lock(mm, c));
      break;
    }
    // Isolate source page and freeze all objects in a zspage to prevent its destroying.
    if (!src && !(src = isolate_source_page(mm, pool, c))) {
      spin_unlock(class_lock(mm, c));
      break;
    }
    // Isolate target page and freeze all objects in the zspage.
    if (!dst && !(dst = isolate_target_page(mm, pool, c))) {
      spin_unlock(class_lock(mm, c));
      break;
    }
    spin_unlock(class_lock(mm, c));

    migrate_zspage_v3(mm, pool, c, dst, src);

    if (zspage_full(mm, c, dst)) {
      spin_lock(class_lock(mm, c));
      release_frozen_zspage(mm, pool, c, dst);
      spin_unlock(class_lock(mm, c));
      dst = 0;
    }
    if (get_zspage_inuse(mm, src) == 0) {  // zspage_empty
      unlock_zspage(mm, src, kNoPfn);
      free_zspage_v3(mm, src);
      spin_lock(class_lock(mm, c));
      zs_stat_dec(mm, c, OBJ_ALLOCATED, c.objs_per_zspage);
      p.pages_allocated -= c.pages_per_zspage;
      p.compaction_freed += c.pages_per_zspage;
      pages_compacted_add(mm, pool, c.pages_per_zspage);
      spin_unlock(class_lock(mm, c));
      src = 0;
    }
  }
  if (!src && !dst) return;
  spin_lock(class_lock(mm, c));
  if (src) release_frozen_zspage(mm, pool, c, src);
  if (dst) release_frozen_zspage(mm, pool, c, dst);
  spin_unlock(class_lock(mm, c));
}

// zs_page_migrate's copy of the page and the move of its objects' handles to newpage,
// which keep their pins (v3 13/16, 4.8 alike).
void move_page_objects(Mm& mm, uint32_t pool, Pfn newpage, Pfn page) {
  sched(Op::Read, Access::Read, mm::page_obj(page), here());
  sched(Op::Write, Access::Write, mm::page_obj(newpage), here());
  page_mem(mm, newpage) = page_mem(mm, page);  // memcpy(d_addr, s_addr, PAGE_SIZE)
  const uint32_t nr = uint32_t(page_mem(mm, page).size());
  for (uint32_t i = 0; i < nr; i++) {
    const uint64_t head = obj_to_head(mm, page, i);
    if (head & OBJ_ALLOCATED_TAG) {
      const uint64_t handle = head >> OBJ_TAG_BITS;
      const bool pinned = !migrate_lock_517(mm);  // since b475d42d2c43 nothing pins handles
      if (pinned && !testpin_tag(mm, pool, handle))
        BUG(REPORT_FUNC("zs_page_migrate"), BUG_SITE_IN("zs_page_migrate", "BUG()"),
            {"!testpin_tag(handle)"});
      const uint64_t old_obj = handle_to_obj(mm, pool, handle);
      Pfn dummy;
      uint32_t obj_idx;
      obj_to_location(old_obj, &dummy, &obj_idx);
      const uint64_t new_obj = location_to_obj(newpage, obj_idx) | (uint64_t(pinned) << HANDLE_PIN_BIT);
      record_obj(mm, pool, handle, new_obj);
    }
  }
}

void replace_sub_page(Mm& mm, const SizeClass& c, uint32_t id, Pfn newpage, Pfn oldpage) {
  std::vector<Pfn> pages;
  Pfn page = get_first_page(mm, id);
  do {
    pages.push_back(page == oldpage ? newpage : page);
  } while ((page = get_next_page(mm, page)) != kNoPfn);
  if (pages.size() != c.pages_per_zspage) bad_address("zspage " + std::to_string(id) + " page chain");
  create_page_chain(mm, c, id, pages);
  if (huge_zspage(mm, id, oldpage)) set_freelist(mm, newpage, read_freelist(mm, oldpage));
  // 68f2736a8583: __SetPageMovable(newpage, &zsmalloc_mops)
  mm::__SetPageMovable(mm, newpage, mm.cfg.has(Fix::MovableOperations) ? Z(mm).mops_mapping
                                                                       : mm::page_mapping(mm, oldpage));
}

uint32_t pool_of_mapping(Mm& mm, uint32_t mapping) {
  if (!mapping || mapping >= mm.mappings.size()) null_deref("mapping->private_data", 0);
  return uint32_t(mm.deref_mapping(mapping).private_data);
}

// The deferred free (pool->free_work). "Caller should hold page_lock of all pages in
// the zspage": it sleeps on each page lock, outside class->lock.
void async_free_zspage(World& w, uint64_t pool_id) {
  MODEL_FUNC("async_free_zspage");
  Mm& mm = static_cast<Mm&>(w);
  const uint32_t pool = uint32_t(pool_id);
  std::vector<uint32_t> free_pages;  // LIST_HEAD(free_pages)
  ZsPool& p = pool_of(mm, pool);
  // Each distinct class in turn (for i < zs_size_classes, class->index == i), under its
  // lock: another CPU can put a zspage on a ZS_EMPTY list between two classes.
  for (size_t i = 0; i < p.classes.size(); ++i) {
    SpinLock& lock = class_lock(mm, p, i);
    spin_lock(lock);
    if (!p.classes[i].fullness_list.empty(ZS_EMPTY)) {  // list_splice_init(&class->fullness_list[ZS_EMPTY], &free_pages)
      SizeClass& c = p.classes.write(i);
      sched(Op::ListDel, Access::Write, zs_class_obj(pool, c.index), here());
      const std::vector<uint32_t> l = c.fullness_list.take(ZS_EMPTY);
      for (uint32_t id : l) zspage_at(mm, id).list = kZsLocalList;
      free_pages.insert(free_pages.begin(), l.begin(), l.end());
    }
    spin_unlock(lock);
  }
  for (uint32_t id : free_pages) {
    sched(Op::ListDel, Access::Write, zspage_obj(id), here());
    zspage_at(mm, id).list = kZsPoisoned;  // list_del(&zspage->list)
    lock_zspage(mm, id);
    uint32_t class_idx;
    int fullness;
    get_zspage_mapping(mm, id, &class_idx, &fullness);
    VM_BUG_ON(mm, fullness != ZS_EMPTY);
    SizeClass& c = class_of(p, class_idx);
    spin_lock(class_lock(mm, c));
    __free_zspage(mm, pool, c, id);
    spin_unlock(class_lock(mm, c));
  }
}

const bool registered = [] {
  register_obj_class(zsobj::kZspage, "zspage", [](uint64_t i, const World*) {
    return "zspage " + std::to_string(i);
  });
  register_obj_class(zsobj::kHandle, "handle", [](uint64_t i, const World*) {
    return "handle " + std::to_string(i & 0xffffffffu) + " (pool " + std::to_string(i >> 32) + ")";
  });
  register_obj_class(zsobj::kClassLock, "class->lock", [](uint64_t i, const World*) {
    return "class->lock (pool " + std::to_string(i >> 16) + ", class " + std::to_string(i & 0xffff) + ")";
  });
  register_obj_class(zsobj::kPool, "zs_pool", [](uint64_t i, const World*) {
    return "zs_pool " + std::to_string(i);
  });
  register_obj_class(zsobj::kMigrationWait, "pool->migration_wait", [](uint64_t i, const World*) {
    return "pool->migration_wait (pool " + std::to_string(i) + ")";
  });
  register_obj_class(zsobj::kPoolStats, "pool->stats", [](uint64_t i, const World*) {
    return "pool->stats (pool " + std::to_string(i) + ")";
  });
  register_obj_class(zsobj::kPoolMigrateLock, "pool->migrate_lock", [](uint64_t i, const World*) {
    return "pool->migrate_lock (pool " + std::to_string(i) + ")";
  });
  register_obj_class(zsobj::kPoolLock, "pool->lock", [](uint64_t i, const World*) {
    return "pool->lock (pool " + std::to_string(i) + ")";
  });
  return true;
}();

}  // namespace

const mm::AddressSpaceOps zsmalloc_aops = {"zsmalloc_aops", zs_page_isolate, zs_page_migrate,
                                           zs_page_putback};

uint32_t zs_class_slot(const ZsPool& p, size_t size) {
  return p.table->slot[get_size_class_index(size + ZS_HANDLE_SIZE)];
}

// zs_create_pool sets it from the biggest class down: the first that is not huge. (A
// merged size shares its class's pages and objects, so the class's own size is the one.)
size_t zs_huge_class_size(const Drivers& d, uint32_t pool) {
  const ZsPool& p = d.zsmalloc.pools.at(pool);
  for (auto c = p.table->defs.rbegin(); c != p.table->defs.rend(); ++c)
    if (c->pages_per_zspage != 1 && c->objs_per_zspage != 1) return c->size - (ZS_HANDLE_SIZE - 1);
  return 0;
}

// ---- pool ----

namespace {
// The pool's shrinker: it reports the pages compaction could free, and compacts.
const mm::ShrinkerOps zs_shrinker_ops = {
    "zs_shrinker",
    [](Mm& mm, uint64_t pool) { return zs_shrinker_count(mm, uint32_t(pool)); },
    [](Mm& mm, uint64_t pool, uint64_t) {  // zs_shrinker_scan's own return:
      const uint64_t pages_freed = zs_shrinker_scan(mm, uint32_t(pool));
      return pages_freed ? pages_freed : mm::SHRINK_STOP;
    },
    mm::DEFAULT_SEEKS, 0};

void zs_register_shrinker(Mm& mm, uint32_t pool) {
  pool_of(mm, pool).shrinker = mm::register_shrinker(mm, &zs_shrinker_ops, pool);
}

void zs_unregister_shrinker(Mm& mm, uint32_t pool) {
  ZsPool& p = pool_of(mm, pool);
  if (p.shrinker == ~0u) return;  // !pool->shrinker_enabled
  mm::unregister_shrinker(mm, p.shrinker);
  p.shrinker = ~0u;
}
}  // namespace

uint32_t zs_create_pool(Mm& mm, std::string name) {
  MODEL_FUNC("zs_create_pool");
  Zsmalloc& z = Z(mm);
  (void)registered;
  const uint32_t id = z.nr_pools++;
  ZsPool& p = z.pools.emplace_back();
  p.name = std::move(name);
  // init_deferred_free: INIT_WORK(&pool->free_work, async_free_zspage)
  p.free_work = init_work(mm, async_free_zspage, id, "zs_free_work");
  p.table = &class_table(mm.cfg);
  for (const ClassDef& d : p.table->defs) {
    SizeClass& c = p.classes.emplace_back();
    c.size = d.size;
    c.index = d.index;
    c.pages_per_zspage = d.pages_per_zspage;
    c.objs_per_zspage = d.objs_per_zspage;
    c.lock.id = zs_class_obj(id, d.index);
    c.pool = id;
  }
  p.migrate_lock.id = make_obj(zsobj::kPoolMigrateLock, id);
  p.lock.id = make_obj(zsobj::kPoolLock, id);
  if (mm.cfg.has(Fix::MovableOperations)) {
    // 68f2736a8583: the pages point at the static zsmalloc_mops, not at an inode.
    if (!z.mops_mapping) z.mops_mapping = mm.new_mapping("zsmalloc_mops", &zsmalloc_aops, 0);
    p.mapping = z.mops_mapping;
  } else {
    // zs_register_migration: an anon inode whose mapping has a_ops = zsmalloc_aops and
    // private_data = pool.
    p.mapping = mm.new_mapping("zsmalloc:" + p.name, &zsmalloc_aops, id);
  }
  p.live = true;
  kasan_alloc(p.life);
  // Not critical, we still can use the pool and user can trigger compaction manually.
  zs_register_shrinker(mm, id);
  return id;
}

namespace {
// wait_for_isolated_drain (701d678599d0): wait_event(pool->migration_wait,
// pool_isolated_are_drained(pool)). "We're in the process of destroying the pool, so there
// are no active allocations. zs_page_isolate() fails for completely free zspages, so we
// need only wait for the zs_pool's isolated count to hit zero."
void wait_for_isolated_drain(Mm& mm, uint32_t pool) {
  MODEL_FUNC("wait_for_isolated_drain");
  const ObjId wq = make_obj(zsobj::kMigrationWait, pool);
  while (atomic_read(pool_of(mm, pool).isolated_pages, pool_obj(pool)) != 0)
    sleep_on({wq, "pool->migration_wait", false, false, false, true});
}

// zs_unregister_migration: the deferred free is flushed and the pool's anon inode, with
// the mapping its pages point to, is freed. In 4.8 nothing waits for pages still
// isolated: a migration that puts one back afterwards uses the freed mapping and pool.
// 701d678599d0 (5.3) first marks the pool as being destroyed and waits for its isolated
// zspages to drain.
void zs_unregister_migration(Mm& mm, uint32_t pool) {
  MODEL_FUNC("zs_unregister_migration");
  ZsPool& p = pool_of(mm, pool);
  if (destroy_waits_isolated(mm)) {
    sched(Op::Write, Access::Write, pool_obj(pool), here());
    p.destroying = true;
    // smp_mb(): the model's memory is sequentially consistent.
    wait_for_isolated_drain(mm, pool);  // This can block
  }
  flush_work(mm, p.free_work, here());
  mm::AddressSpace& a = mm.mappings[p.mapping];  // iput(pool->inode)
  kasan_free(a.life, "struct address_space " + a.name, here());
}

// 68f2736a8583: no inode to free, only the deferred free to flush.
void zs_flush_migration(Mm& mm, uint32_t pool) {
  MODEL_FUNC("zs_flush_migration");
  flush_work(mm, pool_of(mm, pool).free_work, here());
}
}  // namespace

void zs_destroy_pool(Mm& mm, uint32_t pool) {
  MODEL_FUNC("zs_destroy_pool");
  ZsPool& p = pool_of(mm, pool);
  zs_unregister_shrinker(mm, pool);
  if (mm.cfg.has(Fix::MovableOperations))
    zs_flush_migration(mm, pool);
  else
    zs_unregister_migration(mm, pool);
  // Classes with zspages left are only reported ("Freeing non-empty class"): their
  // pages leak, as in the kernel. Then kfree(class) for each, and kfree(pool).
  p.live = false;
  kasan_free(p.life, "struct zs_pool " + p.name, here());
}

uint64_t zs_get_total_pages(const Mm& mm, uint32_t pool) {
  const Zsmalloc& z = drivers_of(mm).zsmalloc;
  return pool < z.pools.size() ? uint64_t(z.pools[pool].pages_allocated) : 0;
}

// ---- zs_malloc / zs_free ----

uint64_t zs_malloc(Mm& mm, uint32_t pool, size_t size, mm::gfp_t gfp) {
  MODEL_FUNC("zs_malloc");
  if (!size || size > ZS_MAX_ALLOC_SIZE) return 0;
  // Before zs-malloc-gfp (4.7) zs_malloc had no gfp: it allocated with pool->flags.
  if (!mm.cfg.has(Fix::ZsMallocGfp)) gfp = kZsPoolFlags;
  const uint64_t handle = cache_alloc_handle(mm, pool);
  // extra space in chunk to keep the handle
  size += ZS_HANDLE_SIZE;
  ZsPool& p = pool_of(mm, pool);
  SizeClass& c = p.classes.write(p.table->slot[get_size_class_index(size)]);

  spin_lock(class_lock(mm, c));
  uint32_t zspage = find_get_zspage(mm, pool, c);
  if (zspage) {
    const uint64_t obj = obj_malloc(mm, c, zspage, handle);
    // Now move the zspage to another fullness group, if required.
    fix_fullness_group(mm, c, zspage);
    record_obj(mm, pool, handle, obj);
    spin_unlock(class_lock(mm, c));
    return handle;
  }
  spin_unlock(class_lock(mm, c));

  zspage = alloc_zspage(mm, pool, c, gfp);
  if (!zspage) {
    cache_free_handle(mm, pool, handle);
    return 0;
  }
  if (v3(mm)) {
    // v3: the new zspage is recorded, outside class->lock, as an empty one of its class;
    // fix_fullness_group then lists it.
    set_zspage_mapping(mm, zspage, c.index, ZS_EMPTY);
    p.pages_allocated += c.pages_per_zspage;
    spin_lock(class_lock(mm, c));
    zs_stat_inc(mm, c, OBJ_ALLOCATED, c.objs_per_zspage);
    const uint64_t obj = obj_malloc(mm, c, zspage, handle);
    fix_fullness_group(mm, c, zspage);
    record_obj(mm, pool, handle, obj);
    if (mm.cfg.has(Fix::ZsMovableAfterSetup)) SetZsPageMovable(mm, pool, zspage);
    spin_unlock(class_lock(mm, c));
    return handle;
  }

  spin_lock(class_lock(mm, c));
  const uint64_t obj = obj_malloc(mm, c, zspage, handle);
  const int newfg = get_fullness_group(mm, c, zspage);
  insert_zspage(mm, c, zspage, newfg);
  set_zspage_mapping(mm, zspage, c.index, newfg);
  record_obj(mm, pool, handle, obj);
  p.pages_allocated += c.pages_per_zspage;
  zs_stat_inc(mm, c, OBJ_ALLOCATED, c.objs_per_zspage);
  // We completely set up zspage so mark them as movable.
  if (mm.cfg.has(Fix::ZsMovableAfterSetup)) SetZsPageMovable(mm, pool, zspage);
  spin_unlock(class_lock(mm, c));
  return handle;
}

namespace {
// zs_free since 5.17: the zspage is found under pool->migrate_lock, and an empty one is
// freed whether or not a page of it is isolated (c4549b871102).
void zs_free_517(Mm& mm, uint32_t pool, uint64_t handle) {
  ZsPool& p = pool_of(mm, pool);
  // The pool->migrate_lock (pool->lock since c0547d0b6a4b) protects the race with zpage's
  // migration so it's safe to get the page from handle.
  pool_migrate_lock(mm, p, false);
  const uint64_t obj = handle_to_obj(mm, pool, handle);
  Pfn f_page;
  uint32_t f_objidx;
  obj_to_location(obj, &f_page, &f_objidx);  // obj_to_page
  const uint32_t zspage = get_zspage(mm, f_page);
  uint32_t class_idx;
  int fullness;
  get_zspage_mapping(mm, zspage, &class_idx, &fullness);  // zspage_class(pool, zspage)
  SizeClass& c = class_of(p, class_idx);
  if (!mm.cfg.has(Fix::ZsPoolLock)) {  // then the class's own lock
    spin_lock(c.lock);
    read_unlock(p.migrate_lock);
  }
  obj_free(mm, c, obj);
  if (fix_fullness_group(mm, c, zspage) == ZS_EMPTY) free_zspage(mm, pool, c, zspage);
  spin_unlock(class_lock(mm, c));
  cache_free_handle(mm, pool, handle);
}
}  // namespace

void zs_free(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("zs_free");
  if (!handle) return;
  if (migrate_lock_517(mm)) return zs_free_517(mm, pool, handle);
  // Once handle is pinned, page|object migration cannot work.
  pin_tag(mm, pool, handle);
  const uint64_t obj = handle_to_obj(mm, pool, handle);
  Pfn f_page;
  uint32_t f_objidx;
  obj_to_location(obj, &f_page, &f_objidx);
  const uint32_t zspage = get_zspage(mm, f_page);

  migrate_read_lock(mm, zspage);

  uint32_t class_idx;
  int fullness;
  get_zspage_mapping(mm, zspage, &class_idx, &fullness);
  SizeClass& c = class_of(pool_of(mm, pool), class_idx);

  spin_lock(class_lock(mm, c));
  obj_free(mm, c, obj);
  fullness = fix_fullness_group(mm, c, zspage);
  if (v3(mm) && fullness == ZS_EMPTY) {
    // v3 (12/16): the stats under class->lock, then free_zspage, which spins on each page
    // lock, outside it, with the handle still pinned.
    zs_stat_dec(mm, c, OBJ_ALLOCATED, c.objs_per_zspage);
    spin_unlock(class_lock(mm, c));
    pool_of(mm, pool).pages_allocated -= c.pages_per_zspage;
    free_zspage_v3(mm, zspage);
    unpin_tag(mm, pool, handle);
    return cache_free_handle(mm, pool, handle);
  }
  if (fullness != ZS_EMPTY) {
    migrate_read_unlock(mm, zspage);
  } else {
    const bool isolated = is_zspage_isolated(mm, zspage);
    migrate_read_unlock(mm, zspage);
    // If zspage is isolated, zs_page_putback will free the zspage.
    if (!isolated) free_zspage(mm, pool, c, zspage);
  }
  spin_unlock(class_lock(mm, c));
  unpin_tag(mm, pool, handle);
  cache_free_handle(mm, pool, handle);
}

// ---- zs_map_object / zs_unmap_object ----

ZsObjRef zs_map_object(Mm& mm, uint32_t pool, uint64_t handle, zs_mapmode) {
  MODEL_FUNC("zs_map_object");
  // From now on, migration cannot move the object (since b475d42d2c43 pool->migrate_lock,
  // pool->lock since c0547d0b6a4b, guarantees the zspage can be found from the handle).
  if (migrate_lock_517(mm))
    pool_migrate_lock(mm, pool_of(mm, pool), false);
  else
    pin_tag(mm, pool, handle);
  const uint64_t obj = handle_to_obj(mm, pool, handle);
  Pfn page;
  uint32_t obj_idx;
  obj_to_location(obj, &page, &obj_idx);
  const uint32_t zspage = get_zspage(mm, page);
  // Migration cannot move any subpage in this zspage.
  migrate_read_lock(mm, zspage);
  if (migrate_lock_517(mm)) pool_migrate_unlock(mm, pool_of(mm, pool), false);
  preempt_disable();  // area = &get_cpu_var(zs_map_area); local_lock since 5.17
  uint32_t class_idx;
  int fg;
  get_zspage_mapping(mm, zspage, &class_idx, &fg);
  const SizeClass& c = class_of(pool_of(mm, pool), class_idx);
  const uint32_t off = uint32_t((uint64_t(c.size) * obj_idx) & (PAGE_SIZE - 1));
  if (off + c.size > PAGE_SIZE) {
    // This object spans two pages.
    if (get_next_page(mm, page) == kNoPfn) BUG(REPORT_FUNC("zs_map_object"), BUG_SITE("BUG_ON(!pages[1])"));
  }
  return {page, obj_slot(c.size, obj_idx)};
}

void zs_unmap_object(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("zs_unmap_object");
  const uint64_t obj = handle_to_obj(mm, pool, handle);
  Pfn page;
  uint32_t obj_idx;
  obj_to_location(obj, &page, &obj_idx);
  const uint32_t zspage = get_zspage(mm, page);
  preempt_enable();  // put_cpu_var(zs_map_area)
  migrate_read_unlock(mm, zspage);
  if (!migrate_lock_517(mm)) unpin_tag(mm, pool, handle);
}

void zs_write_object(Mm& mm, uint32_t pool, uint64_t handle, uint32_t content) {
  const ZsObjRef ref = zs_map_object(mm, pool, handle, zs_mapmode::ZS_MM_WO);
  sched(Op::Write, Access::Write, mm::page_obj(ref.page), here());
  mem_slot(mm, ref.page, ref.slot).content = content;
  handle_slot(mm, pool, handle).written = content;  // model: what a reader must get back
  zs_unmap_object(mm, pool, handle);
}

uint32_t zs_read_object(Mm& mm, uint32_t pool, uint64_t handle) {
  const ZsObjRef ref = zs_map_object(mm, pool, handle, zs_mapmode::ZS_MM_RO);
  sched(Op::Read, Access::Read, mm::page_obj(ref.page), here());
  const uint32_t content = mem_slot(mm, ref.page, ref.slot).content;
  zs_unmap_object(mm, pool, handle);
  return content;
}

// ---- zs_compact ----

uint64_t zs_compact(Mm& mm, uint32_t pool) {
  MODEL_FUNC("zs_compact");
  ZsPool& p = pool_of(mm, pool);
  // d2658f2052c7: "Pool compaction is performed under pool->lock so it is basically
  // single-threaded. Having more than one thread in __zs_compact() will increase
  // pool->lock contention": atomic_xchg(&pool->compaction_in_progress, 1).
  const bool one = mm.cfg.has(Fix::ZsOneCompaction);
  if (one) {
    sched(Op::AtomicRmw, Access::Write, pool_obj(pool), here());
    if (std::exchange(p.compaction_in_progress, 1)) return 0;
  }
  // From the largest class down (class->index == i skips merged ones); __zs_compact
  // takes each class's lock, also where isolate_zspage finds no source.
  uint64_t pages_freed = 0;
  for (size_t i = p.classes.size(); i-- > 0;) {
    if (mm.cfg.has(Fix::ZsCompactUnderClassLock))
      pages_freed += __zs_compact(mm, pool, p.classes.write(i));
    else
      __zs_compact_v3(mm, pool, p.classes.write(i));
  }
  if (!mm.cfg.has(Fix::ZsCompactCountsLocally)) {
    sched(Op::Read, Access::Read, pool_stats_obj(pool), here());
    return p.pages_compacted;
  }
  atomic_add_return<uint64_t>(pages_freed, p.pages_compacted, pool_stats_obj(pool));
  if (one) {
    sched(Op::AtomicRmw, Access::Write, pool_obj(pool), here());  // atomic_set(..., 0)
    p.compaction_in_progress = 0;
  }
  return pages_freed;
}

uint64_t zs_shrinker_count(Mm& mm, uint32_t pool) {
  MODEL_FUNC("zs_shrinker_count");
  ZsPool& p = pool_of(mm, pool);
  uint64_t pages_to_free = 0;
  // Every class from the largest down; no class lock: each class's counters are one read.
  for (size_t i = p.classes.size(); i-- > 0;) {
    const SizeClass& c = p.classes[i];
    sched(Op::Read, Access::Read, c.lock.id, here());
    pages_to_free += zs_can_compact(c);
  }
  return pages_to_free;
}

uint64_t zs_shrinker_scan(Mm& mm, uint32_t pool) {
  MODEL_FUNC("zs_shrinker_scan");
  if (mm.cfg.has(Fix::ZsCompactCountsLocally)) return zs_compact(mm, pool);
  sched(Op::Read, Access::Read, pool_stats_obj(pool), here());
  const uint64_t before = pool_of(mm, pool).pages_compacted;
  // Compact classes and calculate compaction delta. Can run concurrently with a manually
  // triggered (by user) compaction.
  return zs_compact(mm, pool) - before;
}

// ---- address_space_operations ----

namespace {

// The start of zs_page_isolate/migrate/putback: the page's zspage, then its class, whose
// index is constant while the zspage lives (its fullness is read again under
// class->lock), in the pool of `mapping`, read from the page when 0.
struct ZsPageClass {
  uint32_t zspage, pool;
  SizeClass& c;
};
ZsPageClass zspage_class(Mm& mm, Pfn page, uint32_t mapping = 0) {
  const uint32_t zspage = get_zspage(mm, page);
  uint32_t class_idx;
  int fullness;
  get_zspage_mapping(mm, zspage, &class_idx, &fullness);
  const uint32_t pool = pool_of_mapping(mm, mapping ? mapping : mm::page_mapping(mm, page));
  return {zspage, pool, class_of(pool_of(mm, pool), class_idx)};
}

// The address_space_operations of the v3 series (13/16 and 15/16).

bool zs_page_isolate_v3(Mm& mm, Pfn page) {
  MODEL_FUNC("zs_page_isolate");
  // The page is locked so it couldn't be destroyed (lock_zspage in free_zspage).
  VM_BUG_ON_PAGE(mm, !mm::PageLocked(mm, page), page);
  VM_BUG_ON_PAGE(mm, mm::PageIsolated(mm, page), page);
  // first_page will not be destroyed by PG_lock of @page but it could be migrated out;
  // zs_page_migrate's trylock_zspage closes that race.
  // first_page = get_first_page(page)
  const auto [zspage, pool, c] = zspage_class(mm, page);
  if (!spin_trylock(class_lock(mm, c))) return false;
  if (!check_isolated_page(mm, zspage)) {
    // First isolation in the zspage: take it off its list so nothing allocates from it.
    uint32_t class_idx;
    int fullness;
    get_zspage_mapping(mm, zspage, &class_idx, &fullness);
    remove_zspage(mm, c, zspage, fullness);
    SetZsPageIsolate(mm, zspage);
  }
  mm::SetPageFlag(mm, page, mm::PG_isolated);  // SetPageIsolated: the driver's, in v3
  spin_unlock(class_lock(mm, c));
  return true;
}

int zs_page_migrate_v3(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page) {
  MODEL_FUNC("zs_page_migrate");
  int ret = -EBUSY;
  uint32_t freezed = 0;
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, !mm::PageIsolated(mm, page), page);

  const auto [zspage, pool, c] = zspage_class(mm, page, mapping);
  // Get stable fullness under class->lock.
  if (!spin_trylock(class_lock(mm, c))) return ret;
  uint32_t class_idx;
  int fullness;
  get_zspage_mapping(mm, zspage, &class_idx, &fullness);
  if (get_zspage_inuse(mm, zspage) == 0) goto out_class_unlock;
  // It prevents first_page migration during tail page operation.
  if (!trylock_zspage_except(mm, zspage, page)) goto out_class_unlock;
  freezed = freeze_zspage(mm, pool, c, zspage);
  if (freezed != get_zspage_inuse(mm, zspage)) goto out_unfreeze;

  move_page_objects(mm, pool, newpage, page);
  replace_sub_page(mm, c, zspage, newpage, page);
  mm::get_page(mm, newpage);
  VM_BUG_ON(mm, get_fullness_group(mm, c, zspage) == ZS_EMPTY,
            "get_fullness_group(class, zspage) == ZS_EMPTY");
  if (!check_isolated_page(mm, zspage)) {
    ClearZsPageIsolate(mm, zspage);
    putback_zspage(mm, c, zspage);
  }
  // Migration complete. Free old page.
  mm::ClearPageFlag(mm, page, mm::PG_isolated);  // ClearPageIsolated
  reset_page(mm, page);
  mm::put_page(mm, page);
  ret = MIGRATEPAGE_SUCCESS;
  page = newpage;
out_unfreeze:
  unfreeze_zspage(mm, pool, c, zspage, freezed);
  unlock_zspage(mm, zspage, page);
out_class_unlock:
  spin_unlock(class_lock(mm, c));
  return ret;
}

void zs_page_putback_v3(Mm& mm, Pfn page) {
  MODEL_FUNC("zs_page_putback");
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, !mm::PageIsolated(mm, page), page);
  const auto [zspage, pool, c] = zspage_class(mm, page);
  // If there is a race between zs_free and here, free_zspage in zs_free waits for the
  // page lock of @page without destroying the zspage.
  spin_lock(class_lock(mm, c));
  mm::ClearPageFlag(mm, page, mm::PG_isolated);  // ClearPageIsolated
  // Put the zspage back on its list if this was its last isolated page.
  if (!check_isolated_page(mm, zspage)) {
    ClearZsPageIsolate(mm, zspage);
    putback_zspage(mm, c, zspage);
  }
  spin_unlock(class_lock(mm, c));
}

// The callbacks since 5.17 (c4549b871102, b475d42d2c43): isolation is only a count in the
// zspage, under the zspage lock, and since 4b5d1e47b694 under pool->lock.

// The isolation count changes under the zspage lock, or since 4b5d1e47b694 under
// pool->lock, which guards the fullness that shares its word.
template <class Change>
void change_zspage_isolation(Mm& mm, uint32_t zspage, Change&& change) {
  if (mm.cfg.has(Fix::ZsIsolationUnderPoolLock)) {
    SpinLock& lock = pool_of(mm, zspage_at(mm, zspage).pool).lock;  // zspage->pool->lock
    spin_lock(lock);
    change(mm, zspage);
    spin_unlock(lock);
    return;
  }
  migrate_write_lock(mm, zspage);
  change(mm, zspage);
  migrate_write_unlock(mm, zspage);
}

bool zs_page_isolate_517(Mm& mm, Pfn page) {
  MODEL_FUNC("zs_page_isolate");
  // Page is locked so zspage couldn't be destroyed. For detail, look at lock_zspage in
  // free_zspage.
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, mm::PageIsolated(mm, page), page);
  change_zspage_isolation(mm, get_zspage(mm, page),
                          [](Mm& m, uint32_t z) { inc_zspage_isolation(m, z); });
  return true;
}

int zs_page_migrate_517(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page) {
  MODEL_FUNC("zs_page_migrate");
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, !mm::PageIsolated(mm, page), page);
  // The page is locked, so this pointer must remain valid.
  const uint32_t zspage = get_zspage(mm, page);
  // 68f2736a8583: pool = zspage->pool; before, the pool inode's mapping->private_data.
  const uint32_t pool = mm.cfg.has(Fix::MovableOperations) ? zspage_at(mm, zspage).pool
                                                           : pool_of_mapping(mm, mapping);
  ZsPool& p = pool_of(mm, pool);
  const bool pool_lock = mm.cfg.has(Fix::ZsPoolLock);
  // The pool migrate_lock (the pool's lock since c0547d0b6a4b) protects the race between
  // zpage migration and zs_free.
  pool_migrate_lock(mm, p, true);
  uint32_t class_idx;
  int fullness;
  get_zspage_mapping(mm, zspage, &class_idx, &fullness);  // zspage_class(pool, zspage)
  SizeClass& c = class_of(p, class_idx);
  // The class lock protects zpage alloc/free in the zspage.
  if (!pool_lock) spin_lock(c.lock);
  // The migrate_write_lock protects zpage access via zs_map_object.
  migrate_write_lock(mm, zspage);
  (void)page_index_in_zspage(mm, zspage, page);  // offset = get_first_obj_offset(page)
  // Here, any user cannot access all objects in the zspage so let's move.
  move_page_objects(mm, pool, newpage, page);
  replace_sub_page(mm, c, zspage, newpage, page);
  if (mm.cfg.has(Fix::ZsIsolationUnderPoolLock)) dec_zspage_isolation(mm, zspage);
  // Since we complete the data copy and set up new zspage structure, it's okay to release
  // migration_lock (the pool's lock).
  pool_migrate_unlock(mm, p, true);
  if (!pool_lock) spin_unlock(c.lock);
  if (!mm.cfg.has(Fix::ZsIsolationUnderPoolLock)) dec_zspage_isolation(mm, zspage);
  migrate_write_unlock(mm, zspage);
  mm::get_page(mm, newpage);
  reset_page(mm, page);
  mm::put_page(mm, page);
  return MIGRATEPAGE_SUCCESS;
}

void zs_page_putback_517(Mm& mm, Pfn page) {
  MODEL_FUNC("zs_page_putback");
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, !mm::PageIsolated(mm, page), page);
  change_zspage_isolation(mm, get_zspage(mm, page),
                          [](Mm& m, uint32_t z) { dec_zspage_isolation(m, z); });
}

}  // namespace

bool zs_page_isolate(Mm& mm, Pfn page, mm::isolate_mode_t) {
  if (v3(mm)) return zs_page_isolate_v3(mm, page);
  if (migrate_lock_517(mm)) return zs_page_isolate_517(mm, page);
  MODEL_FUNC("zs_page_isolate");
  // Page is locked so zspage couldn't be destroyed. For detail, look at lock_zspage in
  // free_zspage.
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, mm::PageIsolated(mm, page), page);

  // Without class lock, fullness could be stale while class_idx is okay because class_idx
  // is constant unless page is freed so we should get fullness again under class lock.
  const auto [zspage, pool, c] = zspage_class(mm, page);
  spin_lock(class_lock(mm, c));
  if (get_zspage_inuse(mm, zspage) == 0) {
    spin_unlock(class_lock(mm, c));
    return false;
  }
  // zspage is isolated for object migration (zs_compact owns it).
  if (zspage_list_empty(mm, zspage) && !is_zspage_isolated(mm, zspage)) {
    spin_unlock(class_lock(mm, c));
    return false;
  }
  // If this is the first isolation for the zspage, isolate it from its size class to
  // prevent further object allocation from the zspage.
  if (!zspage_list_empty(mm, zspage) && !is_zspage_isolated(mm, zspage)) {
    uint32_t class_idx;
    int fullness;
    get_zspage_mapping(mm, zspage, &class_idx, &fullness);
    if (destroy_waits_isolated(mm))
      atomic_add_return<int64_t>(1, pool_of(mm, pool).isolated_pages, pool_obj(pool));
    remove_zspage(mm, c, zspage, fullness);
  }
  inc_zspage_isolation(mm, zspage);
  spin_unlock(class_lock(mm, c));
  // Driver-owned PG_isolated (vm-owns-pg-isolated off).
  if (!vm_owns_isolated(mm)) mm::__SetPageIsolated(mm, page);
  return true;
}

int zs_page_migrate(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page, mm::MigrateMode) {
  if (v3(mm)) return zs_page_migrate_v3(mm, mapping, newpage, page);
  if (migrate_lock_517(mm)) return zs_page_migrate_517(mm, mapping, newpage, page);
  MODEL_FUNC("zs_page_migrate");
  int ret = -EAGAIN;
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, !mm::PageIsolated(mm, page), page);

  const uint32_t zspage = get_zspage(mm, page);
  // Concurrent compactor cannot migrate any subpage in zspage.
  migrate_write_lock(mm, zspage);
  uint32_t class_idx;
  int fullness;
  get_zspage_mapping(mm, zspage, &class_idx, &fullness);
  const uint32_t pool = pool_of_mapping(mm, mapping);
  SizeClass& c = class_of(pool_of(mm, pool), class_idx);
  (void)page_index_in_zspage(mm, zspage, page);  // offset = get_first_obj_offset(...)

  uint32_t pos = 0;  // objects of the page whose handles were pinned
  uint32_t nr = uint32_t(page_mem(mm, page).size());
  spin_lock(class_lock(mm, c));
  if (!get_zspage_inuse(mm, zspage)) {
    // 77ff465799c6: "Set "offset" to end of the page so that every loops skips
    // unnecessary object scanning", and migrate the empty zspage.
    if (!mm.cfg.has(Fix::ZsMigrateEmptyZspage)) {
      ret = -EBUSY;
      goto unlock_class;
    }
    nr = 0;
  }

  for (pos = 0; pos < nr; pos++) {
    const uint64_t head = obj_to_head(mm, page, pos);
    if (head & OBJ_ALLOCATED_TAG) {
      if (!trypin_tag(mm, pool, head >> OBJ_TAG_BITS)) goto unpin_objects;
    }
  }

  // Here, any user cannot access all objects in the zspage so let's move.
  move_page_objects(mm, pool, newpage, page);

  replace_sub_page(mm, c, zspage, newpage, page);
  mm::get_page(mm, newpage);

  dec_zspage_isolation(mm, zspage);
  // Page migration is done so let's putback isolated zspage to the list if @page is
  // final isolated subpage in the zspage.
  if (!is_zspage_isolated(mm, zspage)) {
    // Before 1a87aa03597e the fullness putback_zspage returns is ignored: an empty
    // zspage (77ff465799c6) waits on ZS_EMPTY for a free_work someone else queues.
    if (mm.cfg.has(Fix::ZsPutbackDeferred))
      putback_zspage_deferred(mm, pool, c, zspage);
    else
      putback_zspage(mm, c, zspage);
    // 701d678599d0: "We cannot race with zs_destroy_pool() here because we wait for
    // isolation to hit zero before we start destroying."
    if (destroy_waits_isolated(mm)) zs_pool_dec_isolated(mm, pool);
  }

  // Driver-owned PG_isolated: on success the driver clears it.
  if (!vm_owns_isolated(mm)) mm::__ClearPageIsolated(mm, page);
  reset_page(mm, page);
  mm::put_page(mm, page);
  page = newpage;
  ret = MIGRATEPAGE_SUCCESS;

unpin_objects:
  for (uint32_t i = 0; i < pos; i++) {
    const uint64_t head = obj_to_head(mm, page, i);
    if (head & OBJ_ALLOCATED_TAG) {
      const uint64_t handle = head >> OBJ_TAG_BITS;
      if (!testpin_tag(mm, pool, handle))
        BUG(REPORT_FUNC("zs_page_migrate"), BUG_SITE("BUG()"), {"!testpin_tag(handle)"});
      unpin_tag(mm, pool, handle);
    }
  }
unlock_class:
  spin_unlock(class_lock(mm, c));
  migrate_write_unlock(mm, zspage);
  return ret;
}

void zs_page_putback(Mm& mm, Pfn page) {
  if (v3(mm)) return zs_page_putback_v3(mm, page);
  if (migrate_lock_517(mm)) return zs_page_putback_517(mm, page);
  MODEL_FUNC("zs_page_putback");
  VM_BUG_ON_PAGE(mm, !mm::PageMovable(mm, page), page);
  VM_BUG_ON_PAGE(mm, !mm::PageIsolated(mm, page), page);

  const auto [zspage, pool, c] = zspage_class(mm, page);
  spin_lock(class_lock(mm, c));
  dec_zspage_isolation(mm, zspage);
  if (!is_zspage_isolated(mm, zspage)) {
    // Due to page_lock, we cannot free zspage immediately so let's defer.
    putback_zspage_deferred(mm, pool, c, zspage);
    if (destroy_waits_isolated(mm)) zs_pool_dec_isolated(mm, pool);
  }
  spin_unlock(class_lock(mm, c));
  if (!vm_owns_isolated(mm)) mm::__ClearPageIsolated(mm, page);
}

// ---- views and checks ----

namespace {

// Plain reads for views: no scheduling points, no outcomes.
struct Peek {
  const Mm& mm;
  const Zsmalloc& z;
  uint32_t zspage_of_page(Pfn p) const {
    if (!mm.valid_pfn(p)) return 0;
    const uint64_t id = mm.page(p).private_;
    return id < z.zspages.size() && z.zspages[id].allocated ? uint32_t(id) : 0;
  }
  Pfn next(Pfn p) const {
    if (huge_object(mm, p)) return kNoPfn;
    const uint64_t n = mm.page(p).index;
    return n && n - 1 < mm.pages.size() ? Pfn(n - 1) : kNoPfn;
  }
  // The chain of a zspage's pages, first page first; one page more than a zspage has
  // at most (CONFIG_ZSMALLOC_CHAIN_SIZE, the largest chain of any kernel) shows a chain
  // that is too long.
  using Chain = std::array<Pfn, CONFIG_ZSMALLOC_CHAIN_SIZE + 1>;
  std::span<const Pfn> chain(uint32_t id, Chain& v) const {
    size_t n = 0;
    if (id)
      for (Pfn p = z.zspages[id].first_page; p != kNoPfn && mm.valid_pfn(p) && n < v.size(); p = next(p))
        v[n++] = p;
    return {v.data(), n};
  }
  std::vector<Pfn> pages(uint32_t id) const {
    Chain c;
    const std::span<const Pfn> v = chain(id, c);
    return {v.begin(), v.end()};
  }
  const ZsHandle* handle(uint32_t pool, uint64_t h) const {
    if (pool >= z.pools.size() || h == 0 || h > z.pools[pool].handles.size()) return nullptr;
    const ZsHandle& s = z.pools[pool].handles[h - 1];
    return s.allocated ? &s : nullptr;
  }
  const SizeClass* cls(uint32_t pool, uint32_t class_idx) const {
    if (pool >= z.pools.size() || class_idx >= ZS_SIZE_CLASSES) return nullptr;
    return &z.pools[pool].classes[z.pools[pool].table->slot[class_idx]];
  }
  const ZsObjSlot* slot(Pfn p, uint32_t size, uint32_t obj_idx) const {
    const std::vector<ZsObjSlot>* m = z.memory(p);
    if (!m) return nullptr;
    const uint32_t s = obj_slot(size, obj_idx);
    return s < m->size() ? &(*m)[s] : nullptr;
  }
};

}  // namespace

bool zs_handle_valid(const Drivers& d, uint32_t pool, uint64_t handle) {
  return Peek{d, d.zsmalloc}.handle(pool, handle) != nullptr;
}

uint32_t zs_zspage_of(const Drivers& d, uint32_t pool, uint64_t handle) {
  Peek pk{d, d.zsmalloc};
  const ZsHandle* h = pk.handle(pool, handle);
  if (!h) return 0;
  Pfn page;
  uint32_t idx;
  obj_to_location(h->word, &page, &idx);
  return pk.zspage_of_page(page);
}

std::vector<Pfn> zs_pages_of(const Drivers& d, uint32_t pool, uint64_t handle) {
  Peek pk{d, d.zsmalloc};
  return pk.pages(zs_zspage_of(d, pool, handle));
}

uint32_t zs_peek(const Drivers& d, uint32_t pool, uint64_t handle) {
  Peek pk{d, d.zsmalloc};
  const ZsHandle* h = pk.handle(pool, handle);
  if (!h) return 0;
  Pfn page;
  uint32_t idx;
  obj_to_location(h->word, &page, &idx);
  const uint32_t id = pk.zspage_of_page(page);  // zs_zspage_of without a second lookup
  if (!id) return 0;
  const SizeClass* c = pk.cls(pool, d.zsmalloc.zspages[id].class_idx);
  const ZsObjSlot* s = c ? pk.slot(page, c->size, idx) : nullptr;
  return s ? s->content : 0;
}

namespace {

// The buffers of zsmalloc_check, kept per thread: the check runs after every execution
// and then allocates nothing once they have grown. Not inlined: GCC would look up the
// thread-local address again in every loop that uses them.
struct CheckScratch {
  std::vector<uint8_t> zs_page;  // by pfn: 1 for the pages of live zspages
  std::vector<Pfn> marked;       // the pfns set in zs_page, cleared by the next check
  std::vector<std::pair<uint64_t, uint64_t>> held;  // by class slot: objects used, zspages
};
[[gnu::noinline]] CheckScratch& check_scratch() {
  thread_local CheckScratch s;
  return s;
}

}  // namespace

std::vector<std::string> zsmalloc_check(const Drivers& d, bool settled, const mm::PageCensus* census) {
  std::vector<std::string> out;
  const Zsmalloc& z = d.zsmalloc;
  Peek pk{d, z};
  auto bad = [&](std::string s) { out.push_back(std::move(s)); };
  const auto zs = [](uint32_t id) { return "zspage " + std::to_string(id); };
  const bool ratio = d.cfg.has(Fix::ZsInuseRatioGroups);
  const auto fname = [ratio](int fg) { return fullness_name(fg, ratio); };
  CheckScratch& scratch = check_scratch();
  std::vector<uint8_t>& zs_page = scratch.zs_page;  // pages of live zspages
  for (const Pfn p : scratch.marked) zs_page[p] = 0;
  scratch.marked.clear();
  if (zs_page.size() < d.pages.size()) zs_page.resize(d.pages.size(), 0);
  int64_t nr_zspages = 0;

  for (uint32_t id = 1; id < z.zspages.size(); ++id) {
    const Zspage& zp = z.zspages[id];
    if (!zp.allocated) continue;
    if (zp.magic != ZSPAGE_MAGIC) bad(zs(id) + ": bad magic");
    if (zp.pool >= z.pools.size()) {
      bad(zs(id) + ": no pool");
      continue;
    }
    const ZsPool& pool = z.pools[zp.pool];
    const SizeClass* c = pk.cls(zp.pool, zp.class_idx);
    if (!c || c->index != zp.class_idx) {
      bad(zs(id) + ": bad class index " + std::to_string(zp.class_idx));
      continue;
    }
    if (!pool.live) bad(std::string(kLeak) + zs(id) + " of destroyed pool " + std::to_string(zp.pool) + " is leaked");
    Peek::Chain chain;
    const std::span<const Pfn> pages = pk.chain(id, chain);
    nr_zspages += int64_t(pages.size());
    if (pages.size() != c->pages_per_zspage)
      bad(zs(id) + ": " + std::to_string(pages.size()) + " pages in its chain, class has " +
          std::to_string(c->pages_per_zspage));
    uint32_t allocated = 0;
    for (size_t i = 0; i < pages.size(); ++i) {
      const Pfn p = pages[i];
      const mm::Page& pg = d.page(p);
      const auto at = [&] { return zs(id) + " page " + std::to_string(i) + " (pfn " + std::to_string(p) + ")"; };
      if (zs_page[p])
        bad(at() + ": in two zspages");
      else
        scratch.marked.push_back(p);
      zs_page[p] = 1;
      if (pg.private_ != id) bad(at() + ": page->private is " + std::to_string(pg.private_));
      if (pg.owner != mm::Owner::Zsmalloc) bad(at() + ": owner is not zsmalloc");
      if (pg.refcount < 1) bad(at() + ": refcount " + std::to_string(pg.refcount));
      if (((pg.flags >> mm::PG_private) & 1) != (i == 0)) bad(at() + ": PG_private wrong");
      if (((pg.flags >> mm::PG_private_2) & 1) != (i + 1 == pages.size())) bad(at() + ": PG_private_2 wrong");
      const bool movable = mm::page_is_movable(d.cfg, pg) && mm::mapping_id(pg.mapping) == pool.mapping;
      if (!movable) bad(at() + ": not movable in the pool's mapping");
      if (settled && ((pg.flags >> mm::PG_locked) & 1)) bad(at() + ": still locked");
      if (settled && ((pg.flags >> mm::PG_isolated) & 1)) bad(at() + ": still isolated");
      // Objects whose start lies in this page.
      const uint32_t first = first_obj_of_page(c->size, uint32_t(i));
      const uint32_t end = std::min(first_obj_of_page(c->size, uint32_t(i) + 1), c->objs_per_zspage);
      const size_t nslots = end > first ? end - first : 0;
      const std::vector<ZsObjSlot>* mem = z.memory(p);
      if (!mem || mem->size() != nslots) {
        bad(at() + ": memory holds " + std::to_string(mem ? mem->size() : 0) + " objects, expected " +
            std::to_string(nslots));
        continue;
      }
      for (uint32_t k = first; k < end; ++k) {
        const bool huge = huge_object(d, p);
        const uint64_t head = huge ? pg.index : (*mem)[k - first].head;
        if (!(head & OBJ_ALLOCATED_TAG)) continue;
        // A huge object's header stays in page->index after obj_free: inuse decides.
        if (huge && zp.inuse == 0) continue;
        ++allocated;
        const uint64_t h = head >> OBJ_TAG_BITS;
        const ZsHandle* hs = pk.handle(zp.pool, h);
        const auto obj = [&] { return at() + " object " + std::to_string(k); };
        if (!hs) {
          bad(obj() + ": header names handle " + std::to_string(h) + ", which is not allocated");
          continue;
        }
        Pfn hp;
        uint32_t hidx;
        obj_to_location(hs->word, &hp, &hidx);
        if (hp != p || hidx != k)
          bad(obj() + ": handle " + std::to_string(h) + " points to pfn " + std::to_string(hp) +
              " object " + std::to_string(hidx));
      }
    }
    if (allocated != zp.inuse)
      bad(zs(id) + ": inuse " + std::to_string(zp.inuse) + " but " + std::to_string(allocated) +
          " allocated objects");
    // The list of its fullness, unless isolated (off every list).
    const int fg = fullness_of(zp.inuse, c->objs_per_zspage, ratio);
    if (zp.fullness != fg)
      bad(zs(id) + ": fullness " + fname(zp.fullness) + " but inuse " + std::to_string(zp.inuse) +
          " makes it " + fname(fg));
    // Since c4549b871102 an isolated zspage stays on its list.
    const bool off_list = zp.isolated && !d.cfg.has(Fix::ZsNoZspageIsolation);
    if (zp.isolated && settled) bad(zs(id) + ": still isolated (" + std::to_string(zp.isolated) + ")");
    if (off_list) {
      if (zp.list != kZsNoList) bad(zs(id) + ": isolated but on a list");
    } else if (!fullness_listed(d.cfg, zp.fullness)) {
      if (zp.list != kZsNoList) bad(zs(id) + ": " + fname(zp.fullness) + " is no list, but on " + std::to_string(zp.list));
    } else if (zp.list != zp.fullness) {
      if (settled || zp.list != kZsLocalList)
        bad(zs(id) + ": on list " + std::to_string(zp.list) + ", fullness " + fname(zp.fullness));
    } else {
      const auto& l = c->fullness_list[zp.fullness];
      if (std::count(l.begin(), l.end(), id) != 1) bad(zs(id) + ": not on its class list once");
    }
    if (settled && zp.inuse == 0 && !d.works[pool.free_work].pending)
      bad(std::string(kLeak) + zs(id) + ": empty zspage left unfreed");
    if (settled && (zp.lock.readers || zp.lock.writer != kNoTask)) bad(zs(id) + ": migrate lock held");
  }

  for (uint32_t pi = 0; pi < z.pools.size(); ++pi) {
    const ZsPool& pool = z.pools[pi];
    // pool->stats.pages_compacted counts what compaction freed, unless an update was
    // lost (two compactions' read-modify-writes interleaved, before 239592815805).
    if (settled && pool.pages_compacted != pool.compaction_freed)
      bad("pool " + std::to_string(pi) + ": pool->stats.pages_compacted is " +
          std::to_string(pool.pages_compacted) + " but compaction freed " +
          std::to_string(pool.compaction_freed) + " pages (a lost update)");
    if (settled && spin_is_locked(pool.lock)) bad("pool " + std::to_string(pi) + ": pool->lock held");
    if (settled && (pool.migrate_lock.readers || pool.migrate_lock.writer != kNoTask))
      bad("pool " + std::to_string(pi) + ": pool->migrate_lock held");
    int64_t pages_allocated = 0;
    // Objects and zspages of each class, in one pass over the zspages. A zspage names its
    // class by index; pool->size_class (table->slot) finds the pool's class of that index.
    std::vector<std::pair<uint64_t, uint64_t>>& held = scratch.held;  // used, zspages
    held.assign(pool.classes.size(), {0, 0});
    for (uint32_t id = 1; id < z.zspages.size(); ++id) {
      const Zspage& zp = z.zspages[id];
      if (!zp.allocated || zp.pool != pi || zp.class_idx >= ZS_SIZE_CLASSES) continue;
      const uint32_t slot = pool.table->slot[zp.class_idx];
      if (slot >= pool.classes.size() || pool.classes[slot].index != zp.class_idx) continue;
      held[slot].first += zp.inuse;
      ++held[slot].second;
    }
    for (size_t slot = 0; slot < pool.classes.size(); ++slot) {
      const SizeClass& c = pool.classes[slot];
      const auto [used, zspages] = held[slot];
      // Most classes are unused: nothing to report or count.
      if (!used && !zspages && !c.stats[OBJ_USED] && !c.stats[OBJ_ALLOCATED] && !spin_is_locked(c.lock) &&
          c.fullness_list.all_empty())
        continue;
      for (int fg = 0; fg < NR_FULLNESS_GROUPS; ++fg)
        for (uint32_t id : c.fullness_list[size_t(fg)]) {
          if (id >= z.zspages.size() || !z.zspages[id].allocated) {
            bad("class " + std::to_string(c.index) + " list " + fname(fg) +
                " holds freed " + zs(id));
            continue;
          }
          if (z.zspages[id].list != fg)
            bad(zs(id) + " is on list " + fname(fg) + " but says otherwise");
        }
      if (settled && spin_is_locked(c.lock)) bad("class " + std::to_string(c.index) + ": class->lock held");
      if (c.stats[OBJ_USED] != used)
        bad("pool " + std::to_string(pi) + " class " + std::to_string(c.index) + ": OBJ_USED " +
            std::to_string(c.stats[OBJ_USED]) + " but zspages hold " + std::to_string(used));
      if (c.stats[OBJ_ALLOCATED] != zspages * c.objs_per_zspage)
        bad("pool " + std::to_string(pi) + " class " + std::to_string(c.index) + ": OBJ_ALLOCATED " +
            std::to_string(c.stats[OBJ_ALLOCATED]) + " for " + std::to_string(zspages) + " zspages");
      pages_allocated += int64_t(zspages * c.pages_per_zspage);
    }
    if (pool.pages_allocated != pages_allocated)
      bad("pool " + std::to_string(pi) + ": pages_allocated " + std::to_string(pool.pages_allocated) +
          " but zspages hold " + std::to_string(pages_allocated));
    // No object lost: every live handle resolves to an object that names it and holds
    // what was written.
    for (uint64_t h = 1; h <= pool.handles.size(); ++h) {
      const ZsHandle& hs = pool.handles[h - 1];
      if (!hs.allocated) continue;
      const auto hn = [&] { return "pool " + std::to_string(pi) + " handle " + std::to_string(h); };
      if (settled && (hs.word & 1)) bad(hn() + ": still pinned");
      Pfn p;
      uint32_t idx;
      obj_to_location(hs.word, &p, &idx);
      const uint32_t id = pk.zspage_of_page(p);
      if (!id || z.zspages[id].pool != pi) {
        bad(hn() + ": object at pfn " + std::to_string(p) + " is in no live zspage of the pool (lost)");
        continue;
      }
      const SizeClass* c = pk.cls(pi, z.zspages[id].class_idx);
      const ZsObjSlot* s = c ? pk.slot(p, c->size, idx) : nullptr;
      if (!s) {
        bad(hn() + ": object " + std::to_string(idx) + " of pfn " + std::to_string(p) + " does not exist");
        continue;
      }
      const bool huge = huge_object(d, p);
      const uint64_t head = huge ? d.page(p).index : s->head;
      if (head != handle_head(h)) bad(hn() + ": its object's header does not name it (lost)");
      if (s->content != hs.written)
        bad(hn() + ": holds content " + std::to_string(s->content) + ", " + std::to_string(hs.written) +
            " was written (corrupted)");
    }
  }

  // No page leaked: every page zsmalloc owns belongs to a live zspage (a referenced page
  // is never a clean free page: the census lists it).
  mm::for_each_census_page(d, census, [&](Pfn p) {
    const mm::Page& pg = d.page(p);
    if (pg.owner == mm::Owner::Zsmalloc && pg.refcount > 0 && !zs_page[p])
      bad(std::string(kLeak) + "pfn " + std::to_string(p) + " is owned by zsmalloc but belongs to no live zspage (leaked): " +
          mm::dump_page(d, p));
  });
  if (d.stats[size_t(mm::Stat::NR_ZSPAGES)] != nr_zspages)
    bad("NR_ZSPAGES is " + std::to_string(d.stats[size_t(mm::Stat::NR_ZSPAGES)]) + " but zspages hold " +
        std::to_string(nr_zspages) + " pages");
  return out;
}

}  // namespace pagesim::drivers
