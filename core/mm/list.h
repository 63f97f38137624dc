// Page lists threaded through page->lru (by pfn), like the kernel's list_head. A list
// lives in the world (Mm::lists) and is named by its id; a page records which list
// its lru links belong to, so list_del needs no search and invariants can check it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/intern.h"
#include "mm/page.h"

namespace pagesim::mm {

class Mm;

struct PageList {
  uint32_t name_id = 0;   // interned, so that copying the world copies no strings
  Pfn first = kNoPfn;
  Pfn last = kNoPfn;
  uint32_t count = 0;
  // "lru:inactive_anon Normal", "free_area[3][Movable] Normal", "cc->migratepages"
  const std::string& name() const { return interned(name_id); }
};

inline ObjId list_obj(uint32_t list) { return make_obj(objclass::kPageList, list); }

uint32_t new_list(Mm& mm, std::string_view name);
// list_add (at the head) / list_add_tail; the page must not be on a list.
void list_add(Mm& mm, Pfn page, uint32_t list, uint32_t line = 0);
void list_add_tail(Mm& mm, Pfn page, uint32_t list, uint32_t line = 0);
// list_del: unlinks and poisons page->lru (LIST_POISON). A page that is not on a list
// (or already poisoned) is list corruption: an oops, as with CONFIG_DEBUG_LIST.
void list_del(Mm& mm, Pfn page, uint32_t line = 0);
// list_del_init: unlinks and leaves page->lru empty (not poisoned).
void list_del_init(Mm& mm, Pfn page, uint32_t line = 0);
inline bool list_empty(const Mm& mm, uint32_t list);
// list_move / list_move_tail: del + add.
void list_move(Mm& mm, Pfn page, uint32_t list, uint32_t line = 0);
void list_move_tail(Mm& mm, Pfn page, uint32_t list, uint32_t line = 0);
// list_splice_init / list_splice_tail_init: every page of `list` onto `head`, at its head
// or its tail, in order; `list` is left empty. One step on each list: the pages' links
// change together.
void list_splice_init(Mm& mm, uint32_t list, uint32_t head, uint32_t line = 0);
void list_splice_tail_init(Mm& mm, uint32_t list, uint32_t head, uint32_t line = 0);
// list_cut_before: the pages of `head` before `entry` onto the empty `list`.
void list_cut_before(Mm& mm, uint32_t list, uint32_t head, Pfn entry, uint32_t line = 0);

}  // namespace pagesim::mm
