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
  VM_BUG_ON_PAGE(mm, !(mm.page(page).flags & (1ull << PG_locked)), page);
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
  VM_BUG_ON_PAGE(mm, !(mm.page(page).flags & (1ull << PG_locked)), page);
  VM_BUG_ON_PAGE(mm, !(mm.page(newpage).flags & (1ull << PG_locked)), newpage);
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
                   Pfn page, bool force, MigrateMode mode, MigrateReason) {
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
  if (rc != -EAGAIN) {
    // A page that has been migrated has all references removed and will be freed. A
    // page that has not been migrated will have kept its references and be restored.
    list_del(mm, page);
    dec_isolated(mm, page, lru);
  }
  if (rc == MIGRATEPAGE_SUCCESS) {
    put_page(mm, page);  // the isolation reference: the old page is freed
    return rc;
  }
  if (rc != -EAGAIN) {
    if (lru)
      putback_lru_page(mm, page);
    else
      putback_isolated_movable(mm, page);
  }
  put_new(mm, put_new_page, newpage, private_);
  return rc;
}

int migrate_pages(Mm& mm, uint32_t from, new_page_t get_new_page, free_page_t put_new_page,
                  uint64_t private_, MigrateMode mode, MigrateReason reason) {
  MODEL_FUNC("migrate_pages");
  int retry = 1, nr_failed = 0, nr_succeeded = 0, rc = 0;
  for (int pass = 0; pass < 10 && retry; pass++) {
    retry = 0;
    // list_for_each_entry_safe: remember the next page before this one may leave.
    for (Pfn page = mm.lists[from].first, next; page != kNoPfn; page = next) {
      next = mm.page(page).lru_next;
      const int r = unmap_and_move(mm, get_new_page, put_new_page, private_, page, pass > 2,
                                   mode, reason);
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
  mm.stat(Stat::PGMIGRATE_SUCCESS) += nr_succeeded;
  mm.stat(Stat::PGMIGRATE_FAIL) += nr_failed;
  return rc;
}

}  // namespace pagesim::mm
