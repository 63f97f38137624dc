// Invariant checks over page state: what no kernel path allows. Run at the end of every
// run, and after every step when asked.
#pragma once
#include <string>
#include <vector>

#include "mm/mm.h"

namespace pagesim::mm {

struct Violation {
  OutcomeKind kind;  // Invariant or Leak
  std::string what;  // one line
  Pfn pfn;
  std::string dump;  // dump_page of the page
};

// The pass of the checks over mem_map: what it leaves for the drivers' checks, so that
// they look at a short list instead of every page when most pages are free, and the
// buffers it works in. Reused from one check to the next, it allocates nothing once grown
// (the teardown checks run after every execution).
struct PageCensus {
  // After check_teardown: in pfn order, every page that is not a clean free page (a tail
  // of a free buddy block with refcount 0, on no list, without PG_locked, PG_lru,
  // PG_isolated and PG_balloon), so every page with a reference or PG_balloon. Some
  // clean free pages too: the heads of free blocks, and the pages of a zone whose
  // zone->lock is held (its free lists are not walked).
  std::vector<Pfn> pages;
  // The pages that may be unclean free pages (as above, but refcount, flags and list
  // only) in the world mem_map was last copied from, a bit per pfn, for that source's id
  // and version (MemMap::base_id, base_version): the buddy check looks at a page of a
  // free block only if it is listed here or written since the copy. Exploration restores
  // every execution from one snapshot, so this is computed once.
  std::vector<uint64_t> suspect;
  uint64_t suspect_base = 0, suspect_version = 0;
  // The checker's marks (mm/invariants.cpp).
  std::vector<uint8_t> mark;      // by pfn
  std::vector<uint8_t> lru_list;  // by list id: 1 for the LRU lists of every zone
};

// The census of this thread, reused by every check made on it (the per-step checks and
// the teardowns of an exploration's executions).
PageCensus& thread_census();

// Calls f(pfn) for every page the census lists, or for every page without a census
// (checks called outside a teardown).
template <class F>
void for_each_census_page(const Mm& mm, const PageCensus* census, F&& f) {
  if (census)
    for (const Pfn p : census->pages) f(p);
  else
    for (Pfn p = 0; p < mm.pages.size(); ++p) f(p);
}

// State that must hold between any two steps: buddy structure, refcounts, lists.
std::vector<Violation> check_invariants(const Mm& mm);
// At teardown, when every task is done: additionally nothing is isolated, NR_ISOLATED is
// back to zero, and every page is free or owned (a page that is neither is leaked).
// Fills *census on the way (without one, thread_census()).
std::vector<Violation> check_teardown(const Mm& mm, PageCensus* census = nullptr);

}  // namespace pagesim::mm
