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

// State that must hold between any two steps: buddy structure, refcounts, lists.
std::vector<Violation> check_invariants(const Mm& mm);
// At teardown, when every task is done: additionally nothing is isolated, NR_ISOLATED is
// back to zero, and every page is free or owned (a page that is neither is leaked).
std::vector<Violation> check_teardown(const Mm& mm);

}  // namespace pagesim::mm
