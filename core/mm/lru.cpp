#include "mm/lru.h"

#include <utility>

#include "mm/page_alloc.h"
#include "mm/page_ops.h"
#include "mm/vmstat.h"

namespace pagesim::mm {
namespace {

const Process& proc(const Mm& mm, uint32_t pid) {
  if (pid >= mm.processes.size()) throw UsageError("no process " + std::to_string(pid));
  return mm.processes[pid];
}
Process& proc(Mm& mm, uint32_t pid) { return const_cast<Process&>(proc(std::as_const(mm), pid)); }


// The process that maps an anon page: page->mapping is its anon_vma, page->index the
// virtual page (the model's rmap walk).
Process* rmap_owner(Mm& mm, Pfn page) {
  const uint64_t m = mm.page(page).mapping;
  if (!(m & PAGE_MAPPING_ANON) || (m & PAGE_MAPPING_MOVABLE)) return nullptr;
  const uint32_t id = mapping_id(m & ~PAGE_MAPPING_FLAGS);
  if (!id || id >= mm.mappings.size()) return nullptr;
  const uint64_t pid = mm.mappings[id].private_data;
  return pid < mm.processes.size() ? &mm.processes[pid] : nullptr;
}

const bool registered = [] {
  register_obj_class(objclass::kPtl, "ptl", [](uint64_t pid, const World* w) {
    const auto* mm = dynamic_cast<const Mm*>(w);
    return "ptl " + (mm && pid < mm->processes.size() ? mm->processes[pid].name : std::to_string(pid));
  });
  return true;
}();

// page_add_anon_rmap / page_remove_rmap: the page's _mapcount, under the pte's lock.
void page_add_anon_rmap(Mm& mm, Pfn page) {
  sched(Op::AtomicRmw, Access::Write, page_obj(page), here());
  ++mm.page(page).mapcount;
}
void page_remove_rmap(Mm& mm, Pfn page) {
  sched(Op::AtomicRmw, Access::Write, page_obj(page), here());
  --mm.page(page).mapcount;
}

}  // namespace

uint32_t process_create(Mm& mm, std::string name) {
  const auto pid = uint32_t(mm.processes.size());
  Process& p = mm.processes.emplace_back();
  p.name = name;
  p.ptl.id = make_obj(objclass::kPtl, pid);
  p.anon_vma = mm.new_mapping("anon_vma:" + name, nullptr, pid);
  return pid;
}

uint32_t process_fault_in(Mm& mm, uint32_t pid, uint32_t npages) {
  MODEL_FUNC("do_anonymous_page");
  proc(mm, pid);
  for (uint32_t i = 0; i < npages; ++i) {
    const Pfn page = alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0, Owner::Process);
    if (page == kNoPfn) return i;
    Process& p = mm.processes[pid];  // alloc_pages may run compaction, never resizes this
    Page& pg = mm.page(page);
    pg.mapping = mapping_value(p.anon_vma) | PAGE_MAPPING_ANON;  // page_add_new_anon_rmap
    pg.index = p.pte.size();
    pg.mapcount = 0;
    pg.content = mm.next_content++;
    pg.flags |= (1ull << PG_swapbacked) | (1ull << PG_uptodate);  // __SetPageUptodate
    spin_lock(p.ptl);  // set_pte_at under the page table lock
    p.pte.push_back(page);
    p.content.push_back(pg.content);
    spin_unlock(p.ptl);
    lru_cache_add(mm, page);
  }
  return npages;
}

void process_unmap(Mm& mm, uint32_t pid, uint32_t vpage) {
  MODEL_FUNC("zap_pte_range");
  Process& p = proc(mm, pid);
  if (vpage >= p.pte.size()) throw UsageError("process has no virtual page " + std::to_string(vpage));
  // ptep_get_and_clear and page_remove_rmap under the page table lock. A migration
  // entry is only cleared: try_to_unmap removed the rmap and its reference, and
  // remove_migration_ptes will find no entry to restore.
  spin_lock(p.ptl);
  const Pfn page = std::exchange(p.pte[vpage], kNoPfn);
  const bool present = page != kNoPfn && page != kMigrationEntry;
  if (present) page_remove_rmap(mm, page);
  spin_unlock(p.ptl);
  // The TLB batch's release_pages: the last reference takes the page off its LRU list.
  if (present) put_page(mm, page);
}

void process_exit(Mm& mm, uint32_t pid) {
  MODEL_FUNC("exit_mmap");
  for (uint32_t v = 0; v < proc(mm, pid).pte.size(); ++v) process_unmap(mm, pid, v);
  mm.processes[pid].exited = true;
}

uint32_t process_verify(const Mm& mm, uint32_t pid) {
  const Process& p = proc(mm, pid);
  uint32_t bad = 0;
  for (size_t v = 0; v < p.pte.size(); ++v)
    if (p.pte[v] < mm.pages.size() && mm.page(p.pte[v]).content != p.content[v]) ++bad;
  return bad;
}

void lru_cache_add(Mm& mm, Pfn page) {
  MODEL_FUNC("lru_cache_add");
  Zone& z = mm.zone_of(page);
  spin_lock_irqsave(z.lru_lock);
  VM_BUG_ON_PAGE(mm, PageLRU(mm, page), page);
  SetPageFlag(mm, page, PG_lru);
  add_page_to_lru_list(mm, page);
  spin_unlock_irqrestore(z.lru_lock);
}

LruList page_lru(const Mm& mm, Pfn page) {
  const bool active = mm.page(page).flags & (1ull << PG_active);
  return LruList((page_is_file_cache(mm, page) ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON) +
                 (active ? 1 : 0));
}

void add_page_to_lru_list(Mm& mm, Pfn page) {
  const LruList lru = page_lru(mm, page);
  list_add(mm, page, mm.zone_of(page).lru[lru]);
  mod_node_page_state(mm, lru_size_stat(lru), 1);  // update_lru_size
}

void del_page_from_lru_list(Mm& mm, Pfn page) {
  list_del(mm, page);
  mod_node_page_state(mm, lru_size_stat(page_lru(mm, page)), -1);
}

int __isolate_lru_page(Mm& mm, Pfn page, isolate_mode_t mode) {
  if (!PageLRU(mm, page)) return -EINVAL;
  // Compaction should not handle unevictable pages but CMA can do so.
  if (PageUnevictable(mm, page) && !(mode & ISOLATE_UNEVICTABLE)) return -EINVAL;
  if (!get_page_unless_zero(mm, page)) return -EBUSY;
  // Be careful not to clear PageLRU until after we're sure the page is not being freed.
  ClearPageFlag(mm, page, PG_lru);
  return 0;
}

void putback_lru_page(Mm& mm, Pfn page) {
  MODEL_FUNC("putback_lru_page");
  lru_cache_add(mm, page);
  put_page(mm, page);  // drop the isolation reference
}

int page_mapcount(Mm& mm, Pfn page) {
  return atomic_read(mm.page(page).mapcount, page_obj(page)) + 1;
}

bool page_mapped(Mm& mm, Pfn page) { return page_mapcount(mm, page) > 0; }

// The rmap walks below change a pte under its page table lock (page_vma_mapped_walk),
// as zap_pte_range does: the pte may be gone by the time they hold it.
void try_to_unmap(Mm& mm, Pfn page) {
  MODEL_FUNC("try_to_unmap");
  Process* p = rmap_owner(mm, page);
  const uint64_t v = mm.page(page).index;
  if (!p || v >= p->pte.size()) return;
  spin_lock(p->ptl);
  if (p->pte[v] == page) {
    p->pte[v] = kMigrationEntry;  // set_pte_at(..., swp_entry_to_pte(make_migration_entry()))
    page_remove_rmap(mm, page);
    put_page(mm, page);
  }
  spin_unlock(p->ptl);
}

void remove_migration_ptes(Mm& mm, Pfn from, Pfn to) {
  MODEL_FUNC("remove_migration_ptes");
  Process* p = rmap_owner(mm, to);
  const uint64_t v = mm.page(to).index;
  if (!p || v >= p->pte.size()) return;
  (void)from;
  spin_lock(p->ptl);
  if (p->pte[v] == kMigrationEntry) {
    get_page(mm, to);
    p->pte[v] = to;
    page_add_anon_rmap(mm, to);
  }
  spin_unlock(p->ptl);
}

}  // namespace pagesim::mm
