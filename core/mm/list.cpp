#include "mm/list.h"

#include "mm/mm.h"

namespace pagesim::mm {

uint32_t new_list(Mm& mm, std::string_view name) {
  mm.lists.push_back({intern(name), kNoPfn, kNoPfn, 0});
  return uint32_t(mm.lists.size() - 1);
}

namespace {

[[noreturn]] void list_corruption(Mm& mm, Pfn pfn, const char* what) {
  const Page& p = mm.page(pfn);
  OOPS(std::string(what) + " corruption: page pfn " + std::to_string(pfn) +
           (p.list == kPoisonList ? " has poisoned lru (LIST_POISON1 dead000000000100)"
                                  : " lru is not on a list"),
       {});
}

void link(Mm& mm, Pfn pfn, uint32_t list, bool tail, uint32_t line) {
  sched(Op::ListAdd, Access::Write, list_obj(list), line);
  Page& p = mm.page(pfn);
  if (p.list != kNoList && p.list != kPoisonList) {
    BUG(REPORT_FUNC("__list_add"), "list_add corruption: page pfn " + std::to_string(pfn) + " is already on " +
                          mm.lists[p.list].name());
  }
  PageList& l = mm.lists[list];
  p.list = list;
  if (tail) {
    p.lru_prev = l.last;
    p.lru_next = kNoPfn;
    if (l.last != kNoPfn) mm.page(l.last).lru_next = pfn;
    else l.first = pfn;
    l.last = pfn;
  } else {
    p.lru_next = l.first;
    p.lru_prev = kNoPfn;
    if (l.first != kNoPfn) mm.page(l.first).lru_prev = pfn;
    else l.last = pfn;
    l.first = pfn;
  }
  ++l.count;
}

void unlink(Mm& mm, Pfn pfn, bool poison, uint32_t line) {
  Page& p = mm.page(pfn);
  sched(Op::ListDel, Access::Write,
        p.list < mm.lists.size() ? list_obj(p.list) : page_obj(pfn), line);
  if (p.list == kNoList || p.list == kPoisonList) list_corruption(mm, pfn, "list_del");
  PageList& l = mm.lists[p.list];
  if (p.lru_prev != kNoPfn) mm.page(p.lru_prev).lru_next = p.lru_next;
  else l.first = p.lru_next;
  if (p.lru_next != kNoPfn) mm.page(p.lru_next).lru_prev = p.lru_prev;
  else l.last = p.lru_prev;
  --l.count;
  p.lru_prev = p.lru_next = kNoPfn;
  p.list = poison ? kPoisonList : kNoList;
}

}  // namespace

void list_add(Mm& mm, Pfn page, uint32_t list, uint32_t line) { link(mm, page, list, false, line); }
void list_add_tail(Mm& mm, Pfn page, uint32_t list, uint32_t line) { link(mm, page, list, true, line); }
void list_del(Mm& mm, Pfn page, uint32_t line) { unlink(mm, page, true, line); }
void list_del_init(Mm& mm, Pfn page, uint32_t line) { unlink(mm, page, false, line); }
void list_move(Mm& mm, Pfn page, uint32_t list, uint32_t line) {
  unlink(mm, page, false, line);
  link(mm, page, list, false, line);
}

}  // namespace pagesim::mm
