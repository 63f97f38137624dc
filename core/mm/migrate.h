// Page migration (mm/migrate.c, Linux 4.8): LRU pages and non-LRU movable pages.
#pragma once
#include <cstdint>

#include "mm/mm.h"

namespace pagesim::mm {

enum class MigrateReason : uint8_t { Compaction, MemoryHotplug, ContigRange, Syscall };

// new_page_t / free_page_t: where migration gets target pages (compaction_alloc) and
// returns unused ones (compaction_free). `private_` is the caller's context id.
using new_page_t = Pfn (*)(Mm&, Pfn page, uint64_t private_);
using free_page_t = void (*)(Mm&, Pfn newpage, uint64_t private_);

bool isolate_movable_page(Mm& mm, Pfn page, isolate_mode_t mode);
void putback_movable_page(Mm& mm, Pfn page);
void putback_movable_pages(Mm& mm, uint32_t list);
// Returns the number of pages that were not migrated (or -ENOMEM); the pages that were
// not are on `from` for the caller to put back (before dd4ae78a21fc, those that failed
// for good were put back already).
int migrate_pages(Mm& mm, uint32_t from, new_page_t get_new_page, free_page_t put_new_page,
                  uint64_t private_, MigrateMode mode, MigrateReason reason);
// `ret`: where a page that failed for good goes (dd4ae78a21fc), kNoList before.
int unmap_and_move(Mm& mm, new_page_t get_new_page, free_page_t put_new_page, uint64_t private_,
                   Pfn page, bool force, MigrateMode mode, MigrateReason reason, uint32_t ret);
int __unmap_and_move(Mm& mm, Pfn page, Pfn newpage, bool force, MigrateMode mode);
int move_to_new_page(Mm& mm, Pfn newpage, Pfn page, MigrateMode mode);
// migrate_page: the generic migratepage for pages without a mapping (anon LRU pages):
// checks the reference count, then copies the contents and state.
int migrate_page(Mm& mm, uint32_t mapping, Pfn newpage, Pfn page, MigrateMode mode);
// migrate_page_copy: contents and flags.
void migrate_page_copy(Mm& mm, Pfn newpage, Pfn page);

// include/linux/balloon_compaction.h before b1123ea6d3b3: the VM tells balloon pages by
// PageBalloon, and an isolated one by a clear PagePrivate (the balloon list's mark).
inline bool balloon_has_own_hooks(const Mm& mm) { return !mm.cfg.has(Fix::BalloonNonLruMovable); }
// balloon_page_movable: a balloon page not isolated (racy: rechecked under the page lock).
bool balloon_page_movable(Mm& mm, Pfn page);
// isolated_balloon_page: a page on a migration list that the balloon hooks take back.
bool isolated_balloon_page(Mm& mm, Pfn page);
const BalloonHooks& balloon_hooks(const Mm& mm);

// NR_ISOLATED_ANON + page_is_file_cache(page).
Stat nr_isolated_stat(const Mm& mm, Pfn page);

}  // namespace pagesim::mm
