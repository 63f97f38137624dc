#include "mm/migrate.h"

#include "mm/current.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/page_ops.h"
#include "mm/vmstat.h"

namespace pagesim::mm {

Stat nr_isolated_stat(const Mm& mm, Pfn page) {
  return page_is_file_cache(mm, page) ? Stat::NR_ISOLATED_FILE : Stat::NR_ISOLATED_ANON;
}

bool balloon_page_movable(Mm& mm, Pfn page) {
  return balloon_has_own_hooks(mm) && PageBalloon(mm, page) && PagePrivate(mm, page);
}

bool isolated_balloon_page(Mm& mm, Pfn page) {
  return balloon_has_own_hooks(mm) && PageBalloon(mm, page);
}

const BalloonHooks& balloon_hooks(const Mm& mm) {
  if (!mm.balloon_hooks) throw UsageError("a balloon page without the balloon driver");
  return *mm.balloon_hooks;
}

namespace {

const AddressSpaceOps* a_ops_of(Mm& mm, uint32_t mapping) {
  if (!mapping || mapping >= mm.mappings.size()) null_deref("mapping->a_ops", 0x68);
  const AddressSpaceOps* ops = mm.deref_mapping(mapping).a_ops;
  if (!ops) null_deref("mapping->a_ops", 0x68);
  return ops;
}

bool vm_owns_isolated(const Mm& mm) { return mm.cfg.has(Fix::VmOwnsPgIsolated); }

// dec_node_page_state(page, NR_ISOLATED_ANON + page_is_file_cache(page)), which the fix
// 6afcf8ef0ca0 moved to the LRU paths only.
void dec_isolated(Mm& mm, Pfn page, bool lru) {
  if (lru || !mm.cfg.has(Fix::NrIsolatedLruOnly)) dec_node_page_state(mm, nr_isolated_stat(mm, page));
}

}  // namespace

// isolate_movable_page: checks in the kernel's order; the reference taken first is kept as
// the isolation reference on success.
bool isolate_movable_page(Mm& mm, Pfn page, isolate_mode_t mode) {
  MODEL_FUNC("isolate_movable_page");
  // Avoid burning cycles with pages that are yet under __free_pages(), or just got
  // freed under us. If the page wins a race with a free, the later put_page frees it.
  if (!get_page_unless_zero(mm, page)) return false;
  // Check PageMovable before holding PG_lock: the page's owner assumes nobody touches
  // PG_locked of a newly allocated page, so blindly locking could corrupt it.
  if (!__PageMovable(mm, page)) goto out_putpage;
  // The lock stops an already isolated page from being isolated again and keeps us
  // from isolating a page the driver is releasing.
  if (!trylock_page(mm, page)) goto out_putpage;
  if (!PageMovable(mm, page) || PageIsolated(mm, page)) goto out_no_isolated;
  {
    // v4: mapping = page_mapping(page); VM_BUG_ON_PAGE(!mapping). v3 dereferenced
    // page->mapping->a_ops as it found it.
    const uint32_t mapping = page_mapping(mm, page);
    if (mm.cfg.has(Fix::MovableMappingBit)) VM_BUG_ON_PAGE(mm, !mapping, page);
    if (!a_ops_of(mm, mapping)->isolate_page(mm, page, mode)) goto out_no_isolated;
  }
  if (vm_owns_isolated(mm)) {
    // Driver shouldn't use the PG_isolated bit of page->flags.
    WARN_ON_ONCE(PageIsolated(mm, page), "driver set PG_isolated");
    __SetPageIsolated(mm, page);
  } else {
    WARN_ON_ONCE(!PageIsolated(mm, page), "driver did not set PG_isolated");  // v3
  }
  unlock_page(mm, page);
  return true;

out_no_isolated:
  unlock_page(mm, page);
out_putpage:
  put_page(mm, page);
  return false;
}

// putback_movable_page: the page is locked, movable and isolated.
void putback_movable_page(Mm& mm, Pfn page) {
  MODEL_FUNC("putback_movable_page");
  VM_BUG_ON_PAGE(mm, !(mm.page(page).flags & (1ull << PG_locked)), page, "!PageLocked(page)");
  VM_BUG_ON_PAGE(mm, !PageMovable(mm, page), page);
  if (vm_owns_isolated(mm)) VM_BUG_ON_PAGE(mm, !PageIsolated(mm, page), page);
  const uint32_t mapping = page_mapping(mm, page);
  a_ops_of(mm, mapping)->putback_page(mm, page);
  if (vm_owns_isolated(mm))
    __ClearPageIsolated(mm, page);
  else
    WARN_ON_ONCE(PageIsolated(mm, page), "driver kept PG_isolated after putback");  // v3
}

namespace {

// Did the driver release the page after it was isolated? v4: the driver cleared the
// movable mapping (PageMovable is false under the lock). v3: it cleared PG_isolated and
// kept PG_movable for the VM to clear.
bool released_after_isolation(Mm& mm, Pfn page) {
  return vm_owns_isolated(mm) ? !PageMovable(mm, page) : !PageIsolated(mm, page);
}

// The VM's half of a release: v4 clears PG_isolated, v3 clears PG_movable.
void finish_release(Mm& mm, Pfn page) {
  if (vm_owns_isolated(mm))
    __ClearPageIsolated(mm, page);
  else
    __ClearPageMovable(mm, page);
}

// An isolated non-LRU page goes back to its driver, or, if the driver released it
// meanwhile, loses its movable state; then the isolation reference is dropped. v4 does
// all of it under lock_page. v3 (no race-without-page-lock, driver-owned PG_isolated)
// took the lock only for a page still isolated, and cleared PG_movable of a released one
// without it: another CPU's isolate_movable_page can trylock the page in between
// (Vlastimil Babka, 1 Apr 2016: "We don't do lock_page() here, so what prevents parallel
// compaction isolating the same page?").
void putback_isolated_movable(Mm& mm, Pfn page) {
  if (!mm.cfg.has(Fix::RaceWithoutPageLock) && !vm_owns_isolated(mm) && !PageIsolated(mm, page)) {
    __ClearPageMovable(mm, page);
    return put_page(mm, page);
  }
  lock_page(mm, page);
  if (released_after_isolation(mm, page))
    finish_release(mm, page);
  else
    putback_movable_page(mm, page);
  unlock_page(mm, page);
  put_page(mm, page);
}

}  // namespace

void putback_movable_pages(Mm& mm, uint32_t list) {
  MODEL_FUNC("putback_movable_pages");
  while (!list_empty(mm, list)) {
    const Pfn page = mm.lists[list].first;
    list_del(mm, page);
    if (isolated_balloon_page(mm, page)) {
      dec_isolated(mm, page, false);
      balloon_hooks(mm).putback(mm, page);
      continue;
    }
    // We isolated a non-LRU movable page, so __PageMovable can be used here: an LRU
    // page's mapping never has PAGE_MAPPING_MOVABLE.
    if (__PageMovable(mm, page)) {
      dec_isolated(mm, page, false);
      if (vm_owns_isolated(mm)) VM_BUG_ON_PAGE(mm, !PageIsolated(mm, page), page);
      putback_isolated_movable(mm, page);
    } else {
      dec_isolated(mm, page, true);
      putback_lru_page(mm, page);
    }
  }
}

void migrate_page_copy(Mm& mm, Pfn newpage, Pfn page) {
  MODEL_FUNC("migrate_page_copy");
  sched(Op::Read, Access::Read, page_obj(page), here());
  sched(Op::Write, Access::Write, page_obj(newpage), here());
  Page& n = mm.page(newpage);
  const Page& o = mm.page(page);
  n.content = o.content;  // copy_highpage
  constexpr uint64_t kCopied = (1ull << PG_error) | (1ull << PG_referenced) |
                               (1ull << PG_uptodate) | (1ull << PG_active) |
                               (1ull << PG_swapbacked) | (1ull << PG_dirty) |
                               (1ull << PG_unevictable) | (1ull << PG_mappedtodisk);
  n.flags |= o.flags & kCopied;
  mm.page(page).flags &= ~((1ull << PG_active) | (1ull << PG_unevictable));
}

int migrate_page(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page, MigrateMode) {
  MODEL_FUNC("migrate_page");
  // migrate_page_move_mapping without a mapping: only the isolation reference may be
  // left (the ptes were replaced by migration entries).
  if (!mapping) {
    const int expected = 1 + (PagePrivate(mm, page) ? 1 : 0);
    if (page_count(mm, page) != expected) return -EAGAIN;
    sched(Op::Write, Access::Write, page_obj(newpage), here());
    mm.page(newpage).index = mm.page(page).index;
    mm.page(newpage).mapping = mm.page(page).mapping;
  }
  migrate_page_copy(mm, newpage, page);
  return MIGRATEPAGE_SUCCESS;
}

int move_to_new_page(Mm& mm, Pfn newpage, Pfn page, MigrateMode mode) {
  MODEL_FUNC("move_to_new_page");
  int rc = -EAGAIN;
  const bool is_lru = !__PageMovable(mm, page);
  VM_BUG_ON_PAGE(mm, !(mm.page(page).flags & (1ull << PG_locked)), page, "!PageLocked(page)");
  VM_BUG_ON_PAGE(mm, !(mm.page(newpage).flags & (1ull << PG_locked)), newpage, "!PageLocked(newpage)");
  const uint32_t mapping = page_mapping(mm, page);

  if (is_lru) {
    if (!mapping || !mm.mappings[mapping].a_ops || !mm.mappings[mapping].a_ops->migratepage)
      rc = migrate_page(mm, mapping, newpage, page, mode);
    else
      rc = mm.mappings[mapping].a_ops->migratepage(mm, mapping, newpage, page, mode);
  } else {
    // A non-LRU page could be released after isolation; then don't try migration.
    if (vm_owns_isolated(mm)) VM_BUG_ON_PAGE(mm, !PageIsolated(mm, page), page);
    if (released_after_isolation(mm, page)) {
      finish_release(mm, page);
      return MIGRATEPAGE_SUCCESS;
    }
    rc = a_ops_of(mm, mapping)->migratepage(mm, mapping, newpage, page, mode);
    if (vm_owns_isolated(mm))
      WARN_ON_ONCE(rc == MIGRATEPAGE_SUCCESS && !PageIsolated(mm, page),
                   "migrated page is not isolated");
    else  // v3: on success the driver cleared PG_isolated itself
      WARN_ON_ONCE(rc == MIGRATEPAGE_SUCCESS && PageIsolated(mm, page),
                   "driver kept PG_isolated of a migrated page");
  }

  // When successful, old pagecache page->mapping must be cleared before the page is
  // freed; anon and movable mappings keep their bits until free_pages_prepare.
  if (rc == MIGRATEPAGE_SUCCESS) {
    mm.page(newpage).owner = mm.page(page).owner;  // model bookkeeping: who owns the data now
    if (__PageMovable(mm, page)) {
      if (vm_owns_isolated(mm)) {
        VM_BUG_ON_PAGE(mm, !PageIsolated(mm, page), page);
        // We clear PG_isolated under page_lock so no compactor can migrate it again.
        __ClearPageIsolated(mm, page);
      }
    }
    if (!PageMappingFlags(mm, page)) write_mapping(mm, page, 0);
  }
  return rc;
}

int __unmap_and_move(Mm& mm, Pfn page, Pfn newpage, bool force, MigrateMode mode) {
  MODEL_FUNC("__unmap_and_move");
  int rc = -EAGAIN;
  bool page_was_mapped = false;
  const bool is_lru = !__PageMovable(mm, page);

  if (!trylock_page(mm, page)) {
    if (!force || mode == MigrateMode::Async) goto out;
    // It's not safe for direct compaction to call lock_page: the allocating task may hold
    // the lock of the page it would wait for, and deadlock on itself.
    if (current_flags() & PF_MEMALLOC) goto out;
    lock_page(mm, page);
  }

  if (PageWriteback(mm, page)) {
    // Only in the case of a full synchronous migration is it necessary to wait.
    if (mode != MigrateMode::Sync) {
      rc = -EBUSY;
      goto out_unlock;
    }
    if (!force) goto out_unlock;
    wait_on_page_writeback(mm, page);
  }

  if (!trylock_page(mm, newpage)) goto out_unlock;

  if (isolated_balloon_page(mm, page)) {
    // A ballooned page needs no reverse mapping work: it migrates right away, under the
    // page lock (before b1123ea6d3b3).
    rc = balloon_hooks(mm).migrate(mm, newpage, page, mode);
    if (rc == MIGRATEPAGE_SUCCESS) mm.page(newpage).owner = mm.page(page).owner;  // bookkeeping
    goto out_unlock_both;
  }

  if (!is_lru) {
    rc = move_to_new_page(mm, newpage, page, mode);
    goto out_unlock_both;
  }

  if (page_mapped(mm, page)) {
    try_to_unmap(mm, page);  // establish migration ptes
    page_was_mapped = true;
  }
  if (!page_mapped(mm, page)) rc = move_to_new_page(mm, newpage, page, mode);
  if (page_was_mapped)
    remove_migration_ptes(mm, page, rc == MIGRATEPAGE_SUCCESS ? newpage : page);

out_unlock_both:
  unlock_page(mm, newpage);
out_unlock:
  unlock_page(mm, page);
out:
  // On success drop the newpage reference, which does not free it: its new owner took
  // one (the driver's get_page, or the pte). An LRU page goes on the LRU here. (Before
  // c6c919eb90e0, unmap_and_move did this.)
  if (rc == MIGRATEPAGE_SUCCESS && mm.cfg.has(Fix::PutPageAfterMigration)) {
    if (__PageMovable(mm, newpage) || isolated_balloon_page(mm, newpage))
      put_page(mm, newpage);
    else
      putback_lru_page(mm, newpage);
  }
  return rc;
}

static void put_new(Mm& mm, free_page_t put_new_page, Pfn newpage, uint64_t private_) {
  if (put_new_page)
    put_new_page(mm, newpage, private_);
  else
    put_page(mm, newpage);
}

namespace {

// unmap_and_move before c6c919eb90e0: every page leaves through putback_lru_page. A
// migrated page goes back onto the LRU with only the isolation reference, which
// putback_lru_page drops: the page is freed off the LRU, visible to the scanners until
// then. The new page goes to the LRU or, a balloon page, loses migration's reference.
int unmap_and_move_putback_lru(Mm& mm, free_page_t put_new_page, uint64_t private_, Pfn page,
                               Pfn newpage, bool force, MigrateMode mode) {
  int rc = MIGRATEPAGE_SUCCESS;
  bool migrated = false;  // the kernel sets put_new_page = NULL
  // page_count == 1: the page was freed from under us, so we are done.
  if (page_count(mm, page) != 1) {
    rc = __unmap_and_move(mm, page, newpage, force, mode);
    migrated = rc == MIGRATEPAGE_SUCCESS;
  }
  if (rc != -EAGAIN) {
    // A page that has been migrated has all references removed and will be freed. A
    // page that has not been migrated will have kept its references and be restored.
    list_del(mm, page);
    dec_isolated(mm, page, true);
    putback_lru_page(mm, page);
  }
  // If migration was not successful and there's a freeing callback, use it.
  // Otherwise, putback_lru_page() will drop the reference grabbed during isolation.
  if (put_new_page && !migrated)
    put_new_page(mm, newpage, private_);
  else if (PageBalloon(mm, newpage))
    put_page(mm, newpage);  // drop our reference, page already in the balloon
  else
    putback_lru_page(mm, newpage);
  return rc;
}

}  // namespace

int unmap_and_move(Mm& mm, new_page_t get_new_page, free_page_t put_new_page, uint64_t private_,
                   Pfn page, bool force, MigrateMode mode, MigrateReason, uint32_t ret) {
  MODEL_FUNC("unmap_and_move");
  int rc = MIGRATEPAGE_SUCCESS;
  // "mm: migrate: handle freed page at the first place" (5.5): a page freed from under us
  // is done with before a new page is allocated for it; before, the new page was
  // allocated first and freed again.
  const bool freed_first = mm.cfg.has(Fix::MigrateFreedPageFirst);
  const bool freed = freed_first && page_count(mm, page) == 1;
  Pfn newpage = kNoPfn;
  if (!freed) {
    newpage = get_new_page(mm, page, private_);
    if (newpage == kNoPfn) return -ENOMEM;
  }
  if (!mm.cfg.has(Fix::PutPageAfterMigration))
    return unmap_and_move_putback_lru(mm, put_new_page, private_, page, newpage, force, mode);

  if (freed || (!freed_first && page_count(mm, page) == 1)) {
    // The page was freed from under us (only the isolation reference is left).
    ClearPageFlag(mm, page, PG_active);
    ClearPageFlag(mm, page, PG_unevictable);
    // 160088b3b6d7 (6.0): "free_pages_prepare() will clear PG_isolated."
    if (__PageMovable(mm, page) && !mm.cfg.has(Fix::FreedPageNoLock)) {
      if (!mm.cfg.has(Fix::RaceWithoutPageLock) && !vm_owns_isolated(mm)) {
        __ClearPageMovable(mm, page);  // v3: without the page lock
      } else {
        lock_page(mm, page);
        if (vm_owns_isolated(mm) ? !PageMovable(mm, page) : PageMovable(mm, page))
          finish_release(mm, page);
        unlock_page(mm, page);
      }
    }
    if (!freed) put_new(mm, put_new_page, newpage, private_);
  } else {
    rc = __unmap_and_move(mm, page, newpage, force, mode);
  }

  const bool lru = !__PageMovable(mm, page);
  // dd4ae78a21fc: a page that failed for good waits on `ret` for the caller's
  // putback_movable_pages, still counted as isolated; before, it went back at once.
  const bool failed_to_ret = mm.cfg.has(Fix::MigrateFailedToRetList);
  if (rc != -EAGAIN) {
    // A page that has been migrated has all references removed and will be freed. A
    // page that has not been migrated will have kept its references and be restored.
    list_del(mm, page);
    if (rc == MIGRATEPAGE_SUCCESS || !failed_to_ret) dec_isolated(mm, page, lru);
  }
  if (rc == MIGRATEPAGE_SUCCESS) {
    put_page(mm, page);  // the isolation reference: the old page is freed
    return rc;
  }
  if (rc != -EAGAIN) {
    if (failed_to_ret)
      list_add_tail(mm, page, ret);
    else if (lru)
      putback_lru_page(mm, page);
    else
      putback_isolated_movable(mm, page);
  }
  put_new(mm, put_new_page, newpage, private_);
  return rc;
}

// ---- 6.3's batch migration (2ef7dbb26990, 6.6.9 mm/migrate.c:1082-1967) ----

namespace {

constexpr int MIGRATEPAGE_UNMAP = 1;
constexpr int NR_MAX_BATCHED_MIGRATION = 512;  // HPAGE_PMD_NR
constexpr int NR_MAX_MIGRATE_PAGES_RETRY = 10;
constexpr int NR_MAX_MIGRATE_ASYNC_RETRY = 3;
constexpr int NR_MAX_MIGRATE_SYNC_RETRY = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY;

struct migrate_pages_stats {
  int nr_succeeded = 0;
  int nr_failed_pages = 0;
};

// A page between its unmap and its move: the new page, and what __migrate_folio_record
// keeps in the new page's mapping and private fields (page_was_mapped).
struct Unmapped {
  Pfn src = kNoPfn, dst = kNoPfn;
  bool page_was_mapped = false;
};

void migrate_folio_done(Mm& mm, Pfn src) {
  // Compaction can migrate also non-LRU pages which are not accounted to NR_ISOLATED_*.
  // They can be recognized as __PageMovable.
  dec_isolated(mm, src, !__PageMovable(mm, src));
  put_page(mm, src);
}

void migrate_folio_undo_src(Mm& mm, Pfn src, bool page_was_mapped, bool locked, uint32_t ret) {
  if (page_was_mapped) remove_migration_ptes(mm, src, src);
  if (locked) unlock_page(mm, src);
  if (ret != kNoList) list_move_tail(mm, src, ret);
}

void migrate_folio_undo_dst(Mm& mm, Pfn dst, bool locked, free_page_t put_new_page, uint64_t private_) {
  if (locked) unlock_page(mm, dst);
  put_new(mm, put_new_page, dst, private_);
}

// Obtain the lock on the page and a new page, locked too, and remove all ptes. A non-LRU
// page returns MIGRATEPAGE_UNMAP with both pages locked.
int migrate_folio_unmap(Mm& mm, new_page_t get_new_page, free_page_t put_new_page, uint64_t private_,
                        Pfn src, Unmapped& unmapped, MigrateMode mode, uint32_t ret) {
  MODEL_FUNC("migrate_folio_unmap");
  int rc = -EAGAIN;
  bool page_was_mapped = false, locked = false, dst_locked = false;
  const bool is_lru = !__PageMovable(mm, src);
  Pfn dst = kNoPfn;
  if (page_count(mm, src) == 1) {
    // Folio was freed from under us. So we are done.
    ClearPageFlag(mm, src, PG_active);
    ClearPageFlag(mm, src, PG_unevictable);
    list_del(mm, src);
    migrate_folio_done(mm, src);
    return MIGRATEPAGE_SUCCESS;
  }
  dst = get_new_page(mm, src, private_);
  if (dst == kNoPfn) return -ENOMEM;
  if (!trylock_page(mm, src)) {
    if (mode == MigrateMode::Async) goto out;
    // It's not safe for direct compaction to call lock_page: the allocating task may hold
    // the lock of the page it would wait for.
    if (current_flags() & PF_MEMALLOC) goto out;
    // 4bb6dc79d987: in "light" mode, only wait for a page that is uptodate (not under
    // read I/O); zsmalloc's and the balloon's pages never are.
    if (mm.cfg.has(Fix::SyncLightNoWaitNotUptodate) && mode == MigrateMode::SyncLight &&
        !(mm.page(src).flags & (1ull << PG_uptodate)))
      goto out;
    lock_page(mm, src);
  }
  locked = true;
  if (PageWriteback(mm, src)) {
    // Only in the case of a full synchronous migration is it necessary to wait.
    if (mode != MigrateMode::Sync) {
      rc = -EBUSY;
      goto out;
    }
    wait_on_page_writeback(mm, src);
  }
  if (!trylock_page(mm, dst)) goto out;
  dst_locked = true;
  if (!is_lru) {
    unmapped = {src, dst, false};
    return MIGRATEPAGE_UNMAP;
  }
  if (page_mapped(mm, src)) {
    try_to_unmap(mm, src);  // establish migration ptes
    page_was_mapped = true;
  }
  if (!page_mapped(mm, src)) {
    unmapped = {src, dst, page_was_mapped};
    return MIGRATEPAGE_UNMAP;
  }
out:
  // A page to retry (-EAGAIN) stays on `from`; one that failed for good goes to `ret`.
  migrate_folio_undo_src(mm, src, page_was_mapped, locked, rc == -EAGAIN ? kNoList : ret);
  migrate_folio_undo_dst(mm, dst, dst_locked, put_new_page, private_);
  return rc;
}

// Migrate the page to the newly allocated page. On -EAGAIN both stay locked for the next
// pass of the move phase.
int migrate_folio_move(Mm& mm, free_page_t put_new_page, uint64_t private_, const Unmapped& u,
                       MigrateMode mode, uint32_t ret) {
  MODEL_FUNC("migrate_folio_move");
  const Pfn src = u.src, dst = u.dst;
  const bool is_lru = !__PageMovable(mm, src);
  const int rc = move_to_new_page(mm, dst, src, mode);
  if (rc) {
    if (rc == -EAGAIN) return rc;
    migrate_folio_undo_src(mm, src, u.page_was_mapped, true, ret);
    migrate_folio_undo_dst(mm, dst, true, put_new_page, private_);
    return rc;
  }
  if (is_lru) {
    lru_cache_add(mm, dst);  // folio_add_lru
    if (u.page_was_mapped) remove_migration_ptes(mm, src, dst);
  }
  unlock_page(mm, dst);
  // Drop the allocation reference: the new owner took its own (the driver's get_page,
  // the pte, the LRU).
  put_page(mm, dst);
  list_del(mm, src);
  unlock_page(mm, src);
  migrate_folio_done(mm, src);
  return rc;
}

// The unmap phase over `from`, then the move phase over what it unmapped, each with up to
// nr_pass passes. Pages that failed for good go to `ret`; those still to retry stay on
// `from`. Returns the pages not migrated, or -ENOMEM.
int migrate_pages_batch(Mm& mm, uint32_t from, new_page_t get_new_page, free_page_t put_new_page,
                        uint64_t private_, MigrateMode mode, uint32_t ret,
                        migrate_pages_stats& stats, int nr_pass) {
  MODEL_FUNC("migrate_pages_batch");
  int retry = 1, nr_failed = 0, nr_retry_pages = 0, rc_saved = 0, rc = 0;
  const uint32_t unmap_folios = mm.get_private_list("unmap_folios");
  std::vector<Unmapped> dst_folios;  // in unmap_folios' order
  for (int pass = 0; pass < nr_pass && retry; pass++) {
    retry = 0;
    nr_retry_pages = 0;
    for (Pfn folio = mm.lists[from].first, next; folio != kNoPfn; folio = next) {
      next = mm.page(folio).lru_next;
      Unmapped u;
      rc = migrate_folio_unmap(mm, get_new_page, put_new_page, private_, folio, u, mode, ret);
      // The rules are: success: the page is freed; unmap: the page is on unmap_folios;
      // -EAGAIN: stays on `from`; -ENOMEM: stays on `from`, and the migration stops;
      // other errno: on `ret`.
      switch (rc) {
        case -ENOMEM:
          nr_failed++;
          stats.nr_failed_pages += 1 + nr_retry_pages;
          rc_saved = rc;
          if (dst_folios.empty()) goto out;
          goto move;
        case -EAGAIN:
          retry++;
          nr_retry_pages++;
          break;
        case MIGRATEPAGE_SUCCESS:
          stats.nr_succeeded++;
          break;
        case MIGRATEPAGE_UNMAP:
          list_move_tail(mm, folio, unmap_folios);
          dst_folios.push_back(u);
          break;
        default:
          // Permanent failure: the page is on `ret` already.
          nr_failed++;
          stats.nr_failed_pages++;
          break;
      }
    }
  }
  nr_failed += retry;
  stats.nr_failed_pages += nr_retry_pages;
move:
  retry = 1;
  for (int pass = 0; pass < nr_pass && retry; pass++) {
    retry = 0;
    nr_retry_pages = 0;
    for (size_t i = 0; i < dst_folios.size();) {
      rc = migrate_folio_move(mm, put_new_page, private_, dst_folios[i], mode, ret);
      // The rules are: success: the page is freed; -EAGAIN: stays on unmap_folios, both
      // pages locked; other errno: on `ret`.
      if (rc == -EAGAIN) {
        retry++;
        nr_retry_pages++;
        i++;
        continue;
      }
      if (rc == MIGRATEPAGE_SUCCESS) {
        stats.nr_succeeded++;
      } else {
        nr_failed++;
        stats.nr_failed_pages++;
      }
      dst_folios.erase(dst_folios.begin() + std::ptrdiff_t(i));
    }
  }
  nr_failed += retry;
  stats.nr_failed_pages += nr_retry_pages;
  rc = rc_saved ? rc_saved : nr_failed;
out:
  // Cleanup remaining folios.
  for (const Unmapped& u : dst_folios) {
    migrate_folio_undo_src(mm, u.src, u.page_was_mapped, true, ret);
    migrate_folio_undo_dst(mm, u.dst, true, put_new_page, private_);
  }
  mm.put_private_list(unmap_folios);
  return rc;
}

// SYNC_LIGHT and SYNC: the batch asynchronously first (3 passes), then every page it left,
// one at a time, in the real mode (7 passes). Only the second round's failures count,
// unless the first ran out of memory.
int migrate_pages_sync(Mm& mm, uint32_t from, new_page_t get_new_page, free_page_t put_new_page,
                       uint64_t private_, MigrateMode mode, uint32_t ret, migrate_pages_stats& stats) {
  MODEL_FUNC("migrate_pages_sync");
  int nr_failed = 0;
  const uint32_t folios = mm.get_private_list("folios");
  migrate_pages_stats astats;
  int rc = migrate_pages_batch(mm, from, get_new_page, put_new_page, private_, MigrateMode::Async,
                               folios, astats, NR_MAX_MIGRATE_ASYNC_RETRY);
  stats.nr_succeeded += astats.nr_succeeded;
  if (rc < 0) {
    stats.nr_failed_pages += astats.nr_failed_pages;
    list_splice_tail_init(mm, folios, ret);
    mm.put_private_list(folios);
    return rc;
  }
  // The pages that failed for good after those to retry: each gets its own try.
  list_splice_tail_init(mm, folios, from);
  while (!list_empty(mm, from)) {
    list_move(mm, mm.lists[from].first, folios);
    rc = migrate_pages_batch(mm, folios, get_new_page, put_new_page, private_, mode, ret, stats,
                             NR_MAX_MIGRATE_SYNC_RETRY);
    list_splice_tail_init(mm, folios, ret);
    if (rc < 0) break;
    nr_failed += rc;
  }
  mm.put_private_list(folios);
  return rc < 0 ? rc : nr_failed;
}

// migrate_pages since 2ef7dbb26990: batches of up to NR_MAX_BATCHED_MIGRATION pages
// (compaction's lists hold at most COMPACT_CLUSTER_MAX, one batch).
int migrate_pages_batched(Mm& mm, uint32_t from, new_page_t get_new_page, free_page_t put_new_page,
                          uint64_t private_, MigrateMode mode) {
  int rc = 0, rc_gather = 0;
  migrate_pages_stats stats;
  const uint32_t folios = mm.get_private_list("folios");
  const uint32_t ret_folios = mm.get_private_list("ret_folios");
  while (!list_empty(mm, from)) {
    if (mm.lists[from].count > uint32_t(NR_MAX_BATCHED_MIGRATION)) {
      Pfn cut = mm.lists[from].first;
      for (int i = 0; i < NR_MAX_BATCHED_MIGRATION; i++) cut = mm.page(cut).lru_next;
      list_cut_before(mm, folios, from, cut);
    } else {
      list_splice_init(mm, from, folios);
    }
    if (mode == MigrateMode::Async)
      rc = migrate_pages_batch(mm, folios, get_new_page, put_new_page, private_, mode, ret_folios,
                               stats, NR_MAX_MIGRATE_PAGES_RETRY);
    else
      rc = migrate_pages_sync(mm, folios, get_new_page, put_new_page, private_, mode, ret_folios,
                              stats);
    list_splice_tail_init(mm, folios, ret_folios);
    if (rc < 0) {
      rc_gather = rc;
      break;
    }
    rc_gather += rc;
  }
  // Put the permanent failure folios back to the migration list, they will be put back
  // to the right list by the caller.
  list_splice_init(mm, ret_folios, from);
  // Return 0 in case all split folios of fail-to-split folios are migrated successfully.
  if (list_empty(mm, from)) rc_gather = 0;
  mm.stat(Stat::PGMIGRATE_SUCCESS) += uint64_t(stats.nr_succeeded);
  mm.stat(Stat::PGMIGRATE_FAIL) += uint64_t(stats.nr_failed_pages);
  mm.put_private_list(ret_folios);
  mm.put_private_list(folios);
  return rc_gather;
}

}  // namespace

int migrate_pages(Mm& mm, uint32_t from, new_page_t get_new_page, free_page_t put_new_page,
                  uint64_t private_, MigrateMode mode, MigrateReason reason) {
  MODEL_FUNC("migrate_pages");
  if (mm.cfg.has(Fix::MigrateBatch))
    return migrate_pages_batched(mm, from, get_new_page, put_new_page, private_, mode);
  int retry = 1, nr_failed = 0, nr_succeeded = 0, rc = 0;
  // dd4ae78a21fc: the pages that failed for good (LIST_HEAD(ret_pages)).
  const bool failed_to_ret = mm.cfg.has(Fix::MigrateFailedToRetList);
  const uint32_t ret_pages = failed_to_ret ? mm.get_private_list("ret_pages") : kNoList;
  for (int pass = 0; pass < 10 && retry; pass++) {
    retry = 0;
    // list_for_each_entry_safe: remember the next page before this one may leave.
    for (Pfn page = mm.lists[from].first, next; page != kNoPfn; page = next) {
      next = mm.page(page).lru_next;
      const int r = unmap_and_move(mm, get_new_page, put_new_page, private_, page, pass > 2,
                                   mode, reason, ret_pages);
      switch (r) {
        case -ENOMEM:
          nr_failed++;
          rc = -ENOMEM;  // the whole call fails: `goto out` skips `rc = nr_failed`
          goto out;
        case -EAGAIN:
          retry++;
          break;
        case MIGRATEPAGE_SUCCESS:
          nr_succeeded++;
          break;
        default:
          // Permanent failure: the page was put back (or removed from the list).
          nr_failed++;
          break;
      }
    }
  }
  nr_failed += retry;
  rc = nr_failed;
out:
  if (failed_to_ret) {
    // Put the permanent failure page back to migration list, they will be put back to
    // the right list by the caller.
    list_splice_init(mm, ret_pages, from);
    mm.put_private_list(ret_pages);
  }
  mm.stat(Stat::PGMIGRATE_SUCCESS) += nr_succeeded;
  mm.stat(Stat::PGMIGRATE_FAIL) += nr_failed;
  return rc;
}

}  // namespace pagesim::mm
