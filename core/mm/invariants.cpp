#include "mm/invariants.h"

#include "mm/page_ops.h"

namespace pagesim::mm {
namespace {

bool has(const Page& p, int bit) { return (p.flags >> bit) & 1; }

struct Checker {
  const Mm& mm;
  std::vector<Violation> out;
  std::vector<uint8_t> in_free_block;  // 1 for every page of a free buddy block

  void bad(OutcomeKind k, Pfn pfn, std::string what) {
    out.push_back({k, std::move(what), pfn, dump_page(mm, pfn)});
  }

  bool is_lru_list(uint32_t l) const {
    for (const auto& z : mm.zones)
      for (uint32_t x : z.lru)
        if (x == l) return true;
    return false;
  }

  // Structures are only checked while their lock is free: the allocator and the LRU code
  // update a list and its counters in several steps under zone->lock / the lru lock.
  void buddy() {
    in_free_block.assign(mm.pages.size(), 0);
    for (const Zone& z : mm.zones)
      for (int order = 0; order < MAX_ORDER; ++order) {
        if (spin_is_locked(z.lock)) break;
        uint64_t blocks = 0;
        for (int mt = 0; mt < MIGRATE_TYPES; ++mt) {
          const uint32_t l = z.free_area[size_t(order)].free_list[size_t(mt)];
          for (Pfn p = mm.lists[l].first; p != kNoPfn; p = mm.page(p).lru_next) {
            ++blocks;
            const Page& pg = mm.page(p);
            if (pg.mapcount != PAGE_BUDDY_MAPCOUNT_VALUE)
              bad(OutcomeKind::Invariant, p, "page on a free list is not PageBuddy");
            if (pg.private_ != uint64_t(order))
              bad(OutcomeKind::Invariant, p, "free block on the order-" + std::to_string(order) +
                                                 " list has order " + std::to_string(pg.private_));
            for (Pfn q = p; q < p + (1u << order) && q < mm.pages.size(); ++q) {
              in_free_block[q] = 1;
              const Page& t = mm.page(q);
              if (t.refcount != 0) bad(OutcomeKind::Invariant, q, "free page has a nonzero refcount");
              if (has(t, PG_locked)) bad(OutcomeKind::Invariant, q, "free page is locked");
              if (q != p && t.list != kNoList && t.list != kPoisonList)
                bad(OutcomeKind::Invariant, q, "tail of a free block is on list " + mm.lists[t.list].name());
            }
          }
        }
        if (blocks != z.free_area[size_t(order)].nr_free)
          bad(OutcomeKind::Invariant, z.zone_start_pfn,
              "zone " + z.name + " order " + std::to_string(order) + ": nr_free " +
                  std::to_string(z.free_area[size_t(order)].nr_free) + " but " +
                  std::to_string(blocks) + " blocks on the free lists");
      }
  }

  void pages() {
    for (Pfn p = 0; p < mm.pages.size(); ++p) {
      const Page& pg = mm.page(p);
      if (pg.refcount < 0) bad(OutcomeKind::Invariant, p, "negative refcount");
      const bool movable = (pg.mapping & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE;
      if (has(pg, PG_lru) && movable)
        bad(OutcomeKind::Invariant, p, "page is both on the LRU and non-LRU movable");
      const bool on_lru_list = pg.list < mm.lists.size() && is_lru_list(pg.list);
      const bool lru_locked = spin_is_locked(mm.zone_of_const(p).lru_lock);
      if (!lru_locked && has(pg, PG_lru) != on_lru_list)
        bad(OutcomeKind::Invariant, p, has(pg, PG_lru) ? "PG_lru page is not on an LRU list"
                                                       : "page on an LRU list without PG_lru");
      // An isolated page is between lists for a moment (isolate_movable_page returns,
      // then the scanner list_adds it), but never on the LRU or in the buddy allocator.
      if (mm.cfg.has(Fix::VmOwnsPgIsolated) && has(pg, PG_isolated) && movable &&
          (on_lru_list || in_free_block[p]))
        bad(OutcomeKind::Invariant, p, "isolated page is not on a private (isolation) list");
    }
  }
};

}  // namespace

std::vector<Violation> check_invariants(const Mm& mm) {
  Checker c{mm, {}, {}};
  c.buddy();
  c.pages();
  return std::move(c.out);
}

std::vector<Violation> check_teardown(const Mm& mm) {
  Checker c{mm, {}, {}};
  c.buddy();
  c.pages();
  std::vector<uint8_t> in_held_block(mm.pages.size(), 0);  // tails of allocated blocks
  for (Pfn p = 0; p < mm.pages.size(); ++p) {
    if (c.in_free_block[p] || in_held_block[p]) continue;
    const Page& pg = mm.page(p);
    if (pg.refcount > 0)
      for (Pfn t = p + 1; t < p + (1u << pg.order) && t < mm.pages.size(); ++t) in_held_block[t] = 1;
    const bool movable = (pg.mapping & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE;
    if (has(pg, PG_isolated) && movable)
      c.bad(OutcomeKind::Invariant, p, "page is still isolated when every task is done");
    if (pg.refcount == 0)
      c.bad(OutcomeKind::Leak, p, "page is neither free nor referenced");
    else if (pg.owner == Owner::None || pg.owner == Owner::Migration)
      c.bad(OutcomeKind::Leak, p, "page is referenced but has no owner");
  }
  for (Stat s : {Stat::NR_ISOLATED_ANON, Stat::NR_ISOLATED_FILE})
    if (mm.stats[size_t(s)] != 0)
      c.bad(OutcomeKind::Invariant, 0, std::string(stat_name(s)) + " is " +
                                           std::to_string(mm.stats[size_t(s)]) +
                                           " when nothing is isolated");
  return std::move(c.out);
}

}  // namespace pagesim::mm
