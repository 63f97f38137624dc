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
void list_move_tail(Mm& mm, Pfn page, uint32_t list, uint32_t line) {
  unlink(mm, page, false, line);
  link(mm, page, list, true, line);
}

namespace {

// The pages of `from` from its head up to (not including) `stop`, onto `to`'s head or tail.
void splice(Mm& mm, uint32_t from, uint32_t to, Pfn stop, bool tail, uint32_t line) {
  sched(Op::ListDel, Access::Write, list_obj(from), line);
  sched(Op::ListAdd, Access::Write, list_obj(to), line);
  PageList& f = mm.lists[from];
  PageList& t = mm.lists[to];
  if (f.first == stop) return;
  const Pfn first = f.first;
  const Pfn last = stop == kNoPfn ? f.last : mm.page(stop).lru_prev;
  uint32_t n = 0;
  for (Pfn p = first;; p = mm.page(p).lru_next) {
    mm.page(p).list = to;
    ++n;
    if (p == last) break;
  }
  // Unhook [first, last] from `from`.
  f.first = stop;
  if (stop == kNoPfn) f.last = kNoPfn;
  else mm.page(stop).lru_prev = kNoPfn;
  f.count -= n;
  // Hook it into `to`.
  if (t.first == kNoPfn) {
    mm.page(first).lru_prev = kNoPfn;
    mm.page(last).lru_next = kNoPfn;
    t.first = first;
    t.last = last;
  } else if (tail) {
    mm.page(t.last).lru_next = first;
    mm.page(first).lru_prev = t.last;
    mm.page(last).lru_next = kNoPfn;
    t.last = last;
  } else {
    mm.page(t.first).lru_prev = last;
    mm.page(last).lru_next = t.first;
    mm.page(first).lru_prev = kNoPfn;
    t.first = first;
  }
  t.count += n;
}

}  // namespace

void list_splice_init(Mm& mm, uint32_t list, uint32_t head, uint32_t line) {
  splice(mm, list, head, kNoPfn, false, line);
}
void list_splice_tail_init(Mm& mm, uint32_t list, uint32_t head, uint32_t line) {
  splice(mm, list, head, kNoPfn, true, line);
}
void list_cut_before(Mm& mm, uint32_t list, uint32_t head, Pfn entry, uint32_t line) {
  if (mm.lists[list].count) throw UsageError("list_cut_before: list " + mm.lists[list].name() + " is not empty");
  splice(mm, head, list, entry, true, line);
}

}  // namespace pagesim::mm
