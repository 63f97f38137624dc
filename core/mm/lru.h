// LRU pages and the process model that owns them: anonymous pages on a zone's LRU lists,
// mapped by one process's page table, enough for compaction to isolate and migrate them
// (mm/swap.c, mm/vmscan.c, mm/rmap.c subsets).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mm/mm.h"

namespace pagesim::mm {

// A marker in a page table entry while the page is under migration (a migration entry).
inline constexpr Pfn kMigrationEntry = 0xfffffff0u;

// Creates a process (no pages yet); returns its id.
uint32_t process_create(Mm& mm, std::string name);
// Faults in `npages` anonymous pages (GFP_HIGHUSER_MOVABLE), each with fresh content,
// mapped and on the LRU. Returns how many were allocated before memory ran out.
uint32_t process_fault_in(Mm& mm, uint32_t pid, uint32_t npages);
// Unmaps and frees virtual page `vpage` (munmap of one page).
void process_unmap(Mm& mm, uint32_t pid, uint32_t vpage);
// exit_mmap: unmaps everything.
void process_exit(Mm& mm, uint32_t pid);
// Reads every present page and reports data corruption (content differs). Returns the
// number of corrupt pages.
uint32_t process_verify(const Mm& mm, uint32_t pid);

// lru_cache_add + SetPageLRU under the lru lock.
void lru_cache_add(Mm& mm, Pfn page);
// page_is_file_cache (mm_inline.h): not swap-backed. It picks a page's NR_ISOLATED
// counter and its LRU lists.
inline bool page_is_file_cache(const Mm& mm, Pfn page) {
  return !(mm.page(page).flags & (1ull << PG_swapbacked));
}
// page_lru: the LRU list a page belongs on (its PG_active and file/anon flags).
LruList page_lru(const Mm& mm, Pfn page);
// add_page_to_lru_list / del_page_from_lru_list (mm_inline.h), under the zone's lru lock:
// the page on or off its LRU list, and the list's size counter (update_lru_size).
void add_page_to_lru_list(Mm& mm, Pfn page);
void del_page_from_lru_list(Mm& mm, Pfn page);
// __isolate_lru_page: 0 on success (the page holds an extra reference, PG_lru cleared);
// the caller holds the zone's lru lock and deletes the page from its LRU list.
int __isolate_lru_page(Mm& mm, Pfn page, isolate_mode_t mode);
// putback_lru_page: back on the LRU, then drop the isolation reference.
void putback_lru_page(Mm& mm, Pfn page);
// page_mapped / page_mapcount.
bool page_mapped(Mm& mm, Pfn page);
int page_mapcount(Mm& mm, Pfn page);
// try_to_unmap(TTU_MIGRATION): replace the pte with a migration entry, drop its ref.
void try_to_unmap(Mm& mm, Pfn page);
// remove_migration_ptes: map `to` where the migration entry for `from` is.
void remove_migration_ptes(Mm& mm, Pfn from, Pfn to);

}  // namespace pagesim::mm
