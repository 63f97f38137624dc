#include "mm/invariants.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "mm/page_ops.h"
#include "mm/vmstat.h"

namespace pagesim::mm {
namespace {

bool has(const Page& p, int bit) { return (p.flags >> bit) & 1; }

// Bits of Checker::mark, per pfn.
inline constexpr uint8_t kInFreeBlock = 1;  // a page of a free buddy block
inline constexpr uint8_t kInHeldBlock = 2;  // a tail of an allocated block (teardown)
// A tail of a free block with refcount 0, on no list, without PG_locked, PG_lru,
// PG_isolated and PG_balloon: pages() has nothing to report on it and skips it, and the
// census leaves it out (PG_balloon: so that the census lists every balloon page).
inline constexpr uint8_t kFreeClean = 4;

struct Checker {
  const Mm& mm;
  std::vector<Violation> out;
  PageCensus& census;
  std::vector<uint8_t>& mark;      // kInFreeBlock, kInHeldBlock, kFreeClean, by pfn
  std::vector<uint8_t>& lru_list;  // 1 for the LRU lists of every zone, by list id

  Checker(const Mm& m, PageCensus& c) : mm(m), census(c), mark(c.mark), lru_list(c.lru_list) {
    census.pages.clear();
    mark.assign(m.pages.size(), 0);
    lru_list.assign(m.lists.size(), 0);
    for (const Zone& z : mm.zones)
      for (uint32_t l : z.lru)
        if (l < lru_list.size()) lru_list[l] = 1;
  }

  void bad(std::vector<Violation>& to, OutcomeKind k, Pfn pfn, std::string what) {
    to.push_back({k, std::move(what), pfn, dump_page(mm, pfn)});
  }
  void bad(OutcomeKind k, Pfn pfn, std::string what) { bad(out, k, pfn, std::move(what)); }

  // A page of the free block at head that is not clean (kFreeClean).
  [[gnu::noinline]] void free_page(Pfn head, Pfn q) {
    mark[q] = kInFreeBlock;
    const Page& t = mm.page(q);
    if (t.refcount != 0) bad(OutcomeKind::Invariant, q, "free page has a nonzero refcount");
    if (has(t, PG_locked)) bad(OutcomeKind::Invariant, q, "free page is locked");
    if (q != head && t.list != kNoList && t.list != kPoisonList)
      bad(OutcomeKind::Invariant, q, "tail of a free block is on list " + mm.lists[t.list].name());
  }

  // A page of a free block that the checks have nothing to report on (kFreeClean).
  static bool free_clean(const Page& t) {
    constexpr uint64_t kNotClean =
        (1ull << PG_locked) | (1ull << PG_lru) | (1ull << PG_isolated) | (1ull << PG_balloon);
    // list < kPoisonList: on a list (neither kNoList nor kPoisonList).
    return !((t.refcount != 0) | ((t.flags & kNotClean) != 0) | (t.list < kPoisonList));
  }

  // census.suspect for the source mem_map was copied from, or nullptr when it has none.
  // Computed from this world: its unwritten pages are the source's, and its written ones
  // are listed anyway.
  const uint64_t* suspects() {
    const MemMap& m = mm.pages;
    if (!m.base_id()) return nullptr;
    auto& s = census.suspect;
    const size_t words = (m.size() + 63) / 64;
    if (census.suspect_base == m.base_id() && census.suspect_version == m.base_version() &&
        s.size() == words)
      return s.data();
    s.assign(words, 0);
    for (Pfn p = 0; p < m.size(); ++p)
      if (!free_clean(m[p])) s[p / 64] |= uint64_t(1) << (p % 64);
    for (size_t w = 0; w < words; ++w) s[w] |= m.written()[w];
    census.suspect_base = m.base_id();
    census.suspect_version = m.base_version();
    return s.data();
  }

  // The pages of the free block [p, end) after its head that are not clean. With suspects,
  // only those listed there or written since the copy: the others are clean as they were.
  void free_tails(Pfn p, Pfn end, const uint64_t* suspect) {
    const Page* const pages = mm.pages.data();
    if (!suspect) {
      for (Pfn q = p + 1; q < end; ++q)
        if (!free_clean(pages[q])) [[unlikely]]
          free_page(p, q);
      return;
    }
    const uint64_t* const written = mm.pages.written();
    for (Pfn w = (p + 1) / 64; w * 64 < end; ++w) {
      uint64_t bits = suspect[w] | written[w];
      if (w == (p + 1) / 64) bits &= ~uint64_t(0) << ((p + 1) % 64);
      if (end - w * 64 < 64) bits &= (uint64_t(1) << (end - w * 64)) - 1;
      for (; bits; bits &= bits - 1) {
        const Pfn q = w * 64 + Pfn(std::countr_zero(bits));
        if (!free_clean(pages[q])) free_page(p, q);
      }
    }
  }

  // Structures are only checked while their lock is free: the allocator and the LRU code
  // update a list and its counters in several steps under zone->lock / the lru lock.
  void buddy() {
    const uint64_t* const suspect = suspects();
    uint8_t* const mark = this->mark.data();
    const Pfn nr_pages = Pfn(mm.pages.size());
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
            const Pfn end = Pfn(std::min<uint64_t>(uint64_t(p) + (1u << order), nr_pages));
            if (p < end) {
              std::memset(mark + p, kInFreeBlock | kFreeClean, end - p);
              free_page(p, p);  // the head is on a list: never clean
            }
            free_tails(p, end, suspect);
          }
        }
        if (blocks != z.free_area[size_t(order)].nr_free)
          bad(OutcomeKind::Invariant, z.zone_start_pfn,
              "zone " + z.name + " order " + std::to_string(order) + ": nr_free " +
                  std::to_string(z.free_area[size_t(order)].nr_free) + " but " +
                  std::to_string(blocks) + " blocks on the free lists");
      }
  }

  bool on_lru_list(const Page& pg) const { return pg.list < lru_list.size() && lru_list[pg.list]; }
  static bool isolated_movable(const Page& pg) {
    return has(pg, PG_isolated) && (pg.mapping & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE;
  }

  // The state of one page (the fast path of pages() found something to report).
  [[gnu::noinline]] void page_state(Pfn p, bool lru_locked, bool teardown) {
    const Page& pg = mm.page(p);
    if (pg.refcount < 0) bad(OutcomeKind::Invariant, p, "negative refcount");
    const bool movable = (pg.mapping & PAGE_MAPPING_FLAGS) == PAGE_MAPPING_MOVABLE;
    if (has(pg, PG_lru) && movable)
      bad(OutcomeKind::Invariant, p, "page is both on the LRU and non-LRU movable");
    const bool on_lru = on_lru_list(pg);
    // Since 9df41314390b a page being isolated (referenced, PG_lru cleared) is still on
    // its LRU list until the isolating CPU takes the LRU lock.
    const bool isolating = on_lru && !has(pg, PG_lru) && pg.refcount > 0 && !teardown &&
                           mm.cfg.has(Fix::LruIsolateBeforeLock);
    if (!lru_locked && has(pg, PG_lru) != on_lru && !isolating)
      bad(OutcomeKind::Invariant, p, has(pg, PG_lru) ? "PG_lru page is not on an LRU list"
                                                     : "page on an LRU list without PG_lru");
    // An isolated page is between lists for a moment (isolate_movable_page returns,
    // then the scanner list_adds it), but never on the LRU or in the buddy allocator.
    if (mm.cfg.has(Fix::VmOwnsPgIsolated) && isolated_movable(pg) && (on_lru || (mark[p] & kInFreeBlock)))
      bad(OutcomeKind::Invariant, p, "isolated page is not on a private (isolation) list");
  }

  // At teardown, a page neither free nor a tail of a held block.
  [[gnu::noinline]] void page_end(std::vector<Violation>& to, Pfn p) {
    const Page& pg = mm.page(p);
    if (isolated_movable(pg))
      bad(to, OutcomeKind::Invariant, p, "page is still isolated when every task is done");
    if (pg.refcount == 0)
      bad(to, OutcomeKind::Leak, p, "page is neither free nor referenced");
    else if (pg.owner == Owner::None || pg.owner == Owner::Migration)
      bad(to, OutcomeKind::Leak, p, "page is referenced but has no owner");
  }

  // Every page, in pfn order. At teardown (every task is done) also what must hold at the
  // end, into *teardown: nothing isolated, every page free or owned. The loop only looks
  // for pages that may have something to report; page_state and page_end report it.
  // At teardown, those pages (all but the clean free ones) make up census.pages.
  void pages(std::vector<Violation>* teardown) {
    const Page* const pages = mm.pages.data();
    uint8_t* const mark = this->mark.data();
    const uint8_t* const lru_list = this->lru_list.data();
    const size_t nr_lists = this->lru_list.size();
    const Pfn nr_pages = Pfn(mm.pages.size());
    constexpr uint64_t kLruOrIsolated = (1ull << PG_lru) | (1ull << PG_isolated);
    constexpr uint64_t kEightFreeClean = 0x0101010101010101ull * (kInFreeBlock | kFreeClean);
    Pfn zone_end = 0;
    bool lru_locked = false;
    for (Pfn p = 0; p < nr_pages; ++p) {
      if (p >= zone_end) {
        const Zone& z = mm.zone_of_const(p);
        zone_end = z.end_pfn();
        lru_locked = spin_is_locked(z.lru_lock);
      }
      if (p + 8 <= nr_pages) {  // eight clean free pages at once
        uint64_t m8;
        std::memcpy(&m8, mark + p, 8);
        if (m8 == kEightFreeClean) {
          p += 7;
          continue;
        }
      }
      if (mark[p] & kFreeClean) continue;
      if (teardown) census.pages.push_back(p);
      const Page& pg = pages[p];
      // Without PG_lru and PG_isolated, only a negative refcount or an LRU list can be wrong.
      const bool on_lru = pg.list < nr_lists && lru_list[pg.list];
      if ((pg.refcount < 0) | ((pg.flags & kLruOrIsolated) != 0) | (on_lru & !lru_locked)) [[unlikely]]
        page_state(p, lru_locked, teardown != nullptr);
      if (!teardown || mark[p]) continue;
      if (pg.refcount > 0)
        for (Pfn t = p + 1; t < p + (1u << pg.order) && t < nr_pages; ++t) mark[t] |= kInHeldBlock;
      if (pg.refcount == 0 || pg.owner == Owner::None || pg.owner == Owner::Migration ||
          isolated_movable(pg)) [[unlikely]]
        page_end(*teardown, p);
    }
  }
};

}  // namespace

// Not inlined: GCC would look up the thread-local address again in the loops that use it.
[[gnu::noinline]] PageCensus& thread_census() {
  thread_local PageCensus c;
  return c;
}

std::vector<Violation> check_invariants(const Mm& mm) {
  Checker c(mm, thread_census());
  c.buddy();
  c.pages(nullptr);
  return std::move(c.out);
}

std::vector<Violation> check_teardown(const Mm& mm, PageCensus* census) {
  if (!census) census = &thread_census();
  Checker c(mm, *census);
  c.buddy();
  std::vector<Violation> late;
  c.pages(&late);
  for (auto& v : late) c.out.push_back(std::move(v));
  for (uint8_t l = LRU_INACTIVE_ANON; l <= LRU_ACTIVE_FILE; ++l) {
    int64_t on_lists = 0;
    for (const Zone& z : mm.zones) on_lists += mm.lists[z.lru[l]].count;
    const Stat s = lru_size_stat(LruList(l));
    if (mm.stats[size_t(s)] != on_lists)
      c.bad(OutcomeKind::Invariant, 0, std::string(stat_name(s)) + " is " +
                                           std::to_string(mm.stats[size_t(s)]) + " with " +
                                           std::to_string(on_lists) + " pages on those lists");
  }
  for (Stat s : {Stat::NR_ISOLATED_ANON, Stat::NR_ISOLATED_FILE})
    if (mm.stats[size_t(s)] != 0)
      c.bad(OutcomeKind::Invariant, 0, std::string(stat_name(s)) + " is " +
                                           std::to_string(mm.stats[size_t(s)]) +
                                           " when nothing is isolated");
  return std::move(c.out);
}

}  // namespace pagesim::mm
