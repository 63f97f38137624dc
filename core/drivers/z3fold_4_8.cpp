// z3fold before d30561c56f41 (4.14): mm/z3fold.c as Linux 4.8.0 has it (the same file in
// 4.9 and 4.10), and the 4.11 rework behind named fixes (mm/fixes.h):
//  * 4.8: one pool->lock covers everything but the eviction; a full page is on the
//    `buddied` list; UNDER_RECLAIM (the model's PAGE_CLAIMED bit, as in 4.19) tells
//    z3fold_free to leave a page to reclaim, which frees it when it is empty;
//  * "use per-page spinlock": the header under zhdr->page_lock, pool->lock for the lists;
//  * 5a27aa822029: a kref per page, freed by its last put under pool->lock (no buddied
//    list, no UNDER_RECLAIM); then reclaim's unlock and z3fold_alloc's trylock fixes;
//  * f201ebd87652, "fix header size related issues" and 1b096e5ae9f7: the handle's buddy
//    index, the free chunks after a middle object, and a compaction that moves more.
// The header fits in one chunk: it had no work_struct before d30561c56f41.
#include <algorithm>

#include "drivers/z3fold_internal.h"
#include "mm/list.h"

namespace pagesim::drivers::z3fold_4_8 {

using namespace pagesim::mm;
using namespace pagesim::drivers::z3;
using namespace pagesim::drivers::z3fold_impl;

namespace {

constexpr uint32_t ZHDR_SIZE_ALIGNED = CHUNK_SIZE;
// UNDER_RECLAIM (until 5a27aa822029): "Protect z3fold page against free".
constexpr int UNDER_RECLAIM = PAGE_CLAIMED;

bool page_locks(const Mm& mm) { return has(mm, Fix::Z3foldPerPageLock); }
bool krefs(const Mm& mm) { return has(mm, Fix::Z3foldKref); }

uint64_t encode_handle(Mm& mm, Pfn zhdr, z3fold_buddy bud) {
  uint64_t handle = page_address(zhdr);
  if (bud != HEADLESS) handle += (bud + Hr(mm, zhdr).first_num) & buddy_mask(mm);
  return handle;
}

z3fold_buddy handle_to_buddy(Mm& mm, uint64_t handle) {
  MODEL_FUNC("handle_to_buddy");
  const Pfn zhdr = addr_to_zhdr(handle);  // handle_to_z3fold_header
  return z3fold_buddy((handle - Hr(mm, zhdr).first_num) & buddy_mask(mm));
}

bool all_free(const Z3foldHeader& h) { return !h.first_chunks && !h.middle_chunks && !h.last_chunks; }
bool full(const Z3foldHeader& h) { return h.first_chunks && h.middle_chunks && h.last_chunks; }

// zhdr's chunk counts all zero, as reclaim reads them. A headless page's first bytes are its
// object's data (the model holds a token there, not bytes): never all zero.
bool header_all_free(Mm& mm, Pfn zhdr) {
  const Z3foldHeader& h = Hr(mm, zhdr);
  const Z3foldObject& data = page_mem(mm, zhdr).data[0];
  return all_free(h) && !data.token && !data.owner;
}

Pfn init_z3fold_page(Mm& mm, Pfn page, uint32_t pool) {
  MODEL_FUNC("init_z3fold_page");
  init_page_lru(mm, page);
  if (!krefs(mm)) clear_priv(mm, UNDER_RECLAIM, page);
  clear_priv(mm, PAGE_HEADLESS, page);
  clear_priv(mm, MIDDLE_CHUNK_MAPPED, page);
  Z3foldPageMem& m = page_mem(mm, page);
  if (m.life.freed || m.hdr.pool == 0) kasan_alloc(m.life);
  sched(Op::Write, Access::Write, z3fold_header_obj(page), here());
  m.hdr = Z3foldHeader{};
  m.hdr.page_lock.id = make_obj(z3obj::kPageLock, page);  // spin_lock_init, kref_init
  m.hdr.refcount = 1;
  m.hdr.pool = pool + 1;
  return page;
}

// kref_put(&zhdr->refcount, release_z3fold_page), under pool->lock: true when it freed the
// page, off both lists.
bool kref_put_release(Mm& mm, uint32_t pool, Pfn zhdr) {
  if (--H(mm, zhdr, Op::AtomicRmw, here()).refcount != 0) return false;
  MODEL_FUNC("release_z3fold_page");
  if (!buddy_empty(mm, zhdr)) buddy_del_init(mm, pool, zhdr);
  if (page_lru_listed(mm, zhdr)) list_del(mm, zhdr, here());
  free_z3fold_page(mm, zhdr, false);
  return true;
}

void add_to_unbuddied(Mm& mm, uint32_t pool, Pfn zhdr) {
  buddy_add(mm, pool, zhdr, int32_t(num_free_chunks(mm, Hr(mm, zhdr))));
}

// headless: "Add/move z3fold page to beginning of LRU", and the handle. pool->lock held.
uint64_t lru_add_and_encode(Mm& mm, const Z3foldPool& p, Pfn zhdr, z3fold_buddy bud) {
  if (page_lru_listed(mm, zhdr)) list_del(mm, zhdr, here());
  list_add(mm, zhdr, p.lru, here());
  return encode_handle(mm, zhdr, bud);
}

// z3fold_alloc's WARN for a full page on an unbuddied list.
void no_free_chunks() {
  WARN(REPORT_FUNC("z3fold_alloc"), BUG_SITE_IN("z3fold_alloc", "WARN_ON(1)"), {"No free chunks in unbuddied"});
}

// 4.8's z3fold_alloc: pool->lock from the search of the unbuddied lists to the handle.
int alloc_pool_locked(Mm& mm, uint32_t pool, uint32_t chunks, bool headless, gfp_t gfp, uint64_t* handle) {
  Z3foldPool& p = pool_of(mm, pool);
  z3fold_buddy bud = headless ? HEADLESS : FIRST;
  Pfn zhdr = kNoPfn;
  if (!headless) {
    spin_lock(p.lock);
    // First, try to find an unbuddied z3fold page.
    for (uint32_t i = chunks; i < NCHUNKS && zhdr == kNoPfn; ++i) {
      sched(Op::Read, Access::Read, lists_obj(pool), here());
      if (p.unbuddied[i].empty()) continue;
      const Pfn first = p.unbuddied[i].front();
      bud = get_free_buddy(mm, Hr(mm, first), chunks);
      if (bud == HEADLESS) {
        no_free_chunks();
        continue;
      }
      buddy_del_init(mm, pool, first);  // list_del(&zhdr->buddy)
      zhdr = first;
    }
    if (zhdr == kNoPfn) {
      bud = FIRST;
      spin_unlock(p.lock);
    }
  }
  if (zhdr == kNoPfn) {  // Couldn't find unbuddied z3fold page, create new one
    const Pfn page = alloc_pages(mm, gfp, 0, Owner::Z3fold);
    if (page == kNoPfn) return -ENOMEM;
    spin_lock(p.lock);
    p.pages_nr++;
    zhdr = init_z3fold_page(mm, page, pool);
    if (bud == HEADLESS) set_priv(mm, PAGE_HEADLESS, page);
  }
  if (bud != HEADLESS) {  // found:
    set_chunks(mm, zhdr, bud, chunks);
    if (full(Hr(mm, zhdr)))
      buddy_add(mm, pool, zhdr, kBuddied);
    else
      add_to_unbuddied(mm, pool, zhdr);
  }
  *handle = lru_add_and_encode(mm, p, zhdr, bud);
  spin_unlock(p.lock);
  return 0;
}

// z3fold_alloc since "use per-page spinlock": pool->lock around each list's look, the page
// lock for the header.
int alloc_page_locked(Mm& mm, uint32_t pool, uint32_t chunks, bool headless, gfp_t gfp, uint64_t* handle) {
  Z3foldPool& p = pool_of(mm, pool);
  const bool trylock = has(mm, Fix::Z3foldAllocTrylock);
  z3fold_buddy bud = headless ? HEADLESS : FIRST;
  Pfn zhdr = kNoPfn;
  for (uint32_t i = chunks; !headless && i < NCHUNKS && zhdr == kNoPfn; ++i) {
    spin_lock(p.lock);
    sched(Op::Read, Access::Read, lists_obj(pool), here());
    const Pfn first = p.unbuddied[i].empty() ? kNoPfn : p.unbuddied[i].front();
    if (first == kNoPfn || (trylock && !z3fold_page_trylock(mm, first))) {
      spin_unlock(p.lock);
      continue;
    }
    if (krefs(mm)) kref_get(mm, first);
    buddy_del_init(mm, pool, first);
    spin_unlock(p.lock);
    // Before the trylock fix the page is locked only now: z3fold_free may list it again.
    if (!trylock) z3fold_page_lock(mm, first);
    bud = get_free_buddy(mm, Hr(mm, first), chunks);
    if (bud == HEADLESS) {
      if (krefs(mm)) {
        z3fold_page_unlock(mm, first);
        spin_lock(p.lock);
        if (kref_put_release(mm, pool, first)) p.pages_nr--;
        spin_unlock(p.lock);
      } else {
        spin_lock(p.lock);
        buddy_add(mm, pool, first, kBuddied);
        spin_unlock(p.lock);
        z3fold_page_unlock(mm, first);
      }
      no_free_chunks();
      continue;
    }
    zhdr = first;
  }
  if (zhdr == kNoPfn) {  // Couldn't find unbuddied z3fold page, create new one
    if (!headless) bud = FIRST;
    const Pfn page = alloc_pages(mm, gfp, 0, Owner::Z3fold);
    if (page == kNoPfn) return -ENOMEM;
    p.pages_nr++;  // atomic64_inc
    zhdr = init_z3fold_page(mm, page, pool);
    if (bud == HEADLESS) {
      set_priv(mm, PAGE_HEADLESS, page);
      spin_lock(p.lock);
      *handle = lru_add_and_encode(mm, p, zhdr, bud);
      spin_unlock(p.lock);
      return 0;
    }
    z3fold_page_lock(mm, zhdr);
  }
  set_chunks(mm, zhdr, bud, chunks);  // found:
  spin_lock(p.lock);
  if (!full(Hr(mm, zhdr)))
    add_to_unbuddied(mm, pool, zhdr);
  else if (!krefs(mm))
    buddy_add(mm, pool, zhdr, kBuddied);
  *handle = lru_add_and_encode(mm, p, zhdr, bud);
  spin_unlock(p.lock);
  z3fold_page_unlock(mm, zhdr);
  return 0;
}

// The page's object was freed (its chunks zeroed): a locked header, or the bad buddy's WARN.
bool zero_buddy(Mm& mm, Pfn zhdr, z3fold_buddy bud) {
  Z3foldHeader& h = Hw(mm, zhdr);
  switch (bud) {
    case FIRST: h.first_chunks = 0; return true;
    case MIDDLE:
      h.middle_chunks = 0;
      h.start_middle = 0;
      return true;
    case LAST: h.last_chunks = 0; return true;
    default:
      WARN(REPORT_FUNC("z3fold_free"), BUG_SITE_IN("z3fold_free", "WARN_ON(1)"), {"unknown bud " + std::to_string(bud)});
      return false;
  }
}

// 4.8's z3fold_free: all under pool->lock.
void free_pool_locked(Mm& mm, uint32_t pool, uint64_t handle) {
  Z3foldPool& p = pool_of(mm, pool);
  spin_lock(p.lock);
  const Pfn zhdr = addr_to_zhdr(handle), page = zhdr;
  const bool headless = test_priv(mm, PAGE_HEADLESS, page);
  if (!headless && !zero_buddy(mm, zhdr, handle_to_buddy(mm, handle))) return spin_unlock(p.lock);
  if (test_priv(mm, UNDER_RECLAIM, page)) return spin_unlock(p.lock);  // reclaim will free
  if (!headless) buddy_del_init(mm, pool, zhdr);  // Remove from existing buddy list
  if (headless || all_free(Hr(mm, zhdr))) {  // z3fold page is empty, free
    lru_del(mm, page);
    clear_priv(mm, PAGE_HEADLESS, page);
    free_z3fold_page(mm, page, headless);
    p.pages_nr--;
  } else {
    z3fold_compact_page(mm, zhdr);
    add_to_unbuddied(mm, pool, zhdr);
  }
  spin_unlock(p.lock);
}

// z3fold_free from "use per-page spinlock" to 5a27aa822029.
void free_page_locked(Mm& mm, uint32_t pool, uint64_t handle) {
  Z3foldPool& p = pool_of(mm, pool);
  const Pfn zhdr = addr_to_zhdr(handle), page = zhdr;
  const bool headless = test_priv(mm, PAGE_HEADLESS, page);
  if (!headless) {
    z3fold_page_lock(mm, zhdr);
    if (!zero_buddy(mm, zhdr, handle_to_buddy(mm, handle))) return z3fold_page_unlock(mm, zhdr);
  }
  if (test_priv(mm, UNDER_RECLAIM, page)) {  // z3fold page is under reclaim, reclaim will free
    if (!headless) z3fold_page_unlock(mm, zhdr);
    return;
  }
  if (!headless) {  // Remove from existing buddy list
    spin_lock(p.lock);
    // "this object may have been removed from its list by z3fold_alloc(). In that case we
    // just do nothing, z3fold_alloc() will allocate an object and add the page to the
    // relevant list."
    if (buddy_empty(mm, zhdr)) {
      spin_unlock(p.lock);
      return z3fold_page_unlock(mm, zhdr);
    }
    buddy_del_init(mm, pool, zhdr);
    spin_unlock(p.lock);
  }
  if (headless || all_free(Hr(mm, zhdr))) {  // z3fold page is empty, free
    spin_lock(p.lock);
    lru_del(mm, page);
    spin_unlock(p.lock);
    clear_priv(mm, PAGE_HEADLESS, page);
    if (!headless) z3fold_page_unlock(mm, zhdr);
    free_z3fold_page(mm, page, headless);
    p.pages_nr--;
  } else {
    z3fold_compact_page(mm, zhdr);
    spin_lock(p.lock);
    add_to_unbuddied(mm, pool, zhdr);
    spin_unlock(p.lock);
    z3fold_page_unlock(mm, zhdr);
  }
}

// z3fold_free since 5a27aa822029: a headless page is freed at once (reclaim may be
// evicting it), another page by its last kref_put.
void free_kref(Mm& mm, uint32_t pool, uint64_t handle) {
  Z3foldPool& p = pool_of(mm, pool);
  const Pfn zhdr = addr_to_zhdr(handle), page = zhdr;
  if (test_priv(mm, PAGE_HEADLESS, page)) {
    spin_lock(p.lock);
    lru_del(mm, page);
    spin_unlock(p.lock);
    free_z3fold_page(mm, page, true);
    p.pages_nr--;
    return;
  }
  z3fold_page_lock(mm, zhdr);
  if (!zero_buddy(mm, zhdr, handle_to_buddy(mm, handle))) return z3fold_page_unlock(mm, zhdr);
  if (!all_free(Hr(mm, zhdr))) {
    z3fold_compact_page(mm, zhdr);
    spin_lock(p.lock);  // Add to the unbuddied list
    if (!buddy_empty(mm, zhdr)) buddy_del_init(mm, pool, zhdr);
    add_to_unbuddied(mm, pool, zhdr);
    spin_unlock(p.lock);
  }
  z3fold_page_unlock(mm, zhdr);
  spin_lock(p.lock);
  if (kref_put_release(mm, pool, zhdr)) p.pages_nr--;
  spin_unlock(p.lock);
}

struct Handles {
  uint64_t first = 0, middle = 0, last = 0;
};

// "We need encode the handles before unlocking, since we can race with free that will set
// (first|last)_chunks to 0".
Handles encode_handles(Mm& mm, Pfn zhdr) {
  Handles out;
  if (Hr(mm, zhdr).first_chunks) out.first = encode_handle(mm, zhdr, FIRST);
  if (Hr(mm, zhdr).middle_chunks) out.middle = encode_handle(mm, zhdr, MIDDLE);
  if (Hr(mm, zhdr).last_chunks) out.last = encode_handle(mm, zhdr, LAST);
  return out;
}

// Issue the eviction callback(s), middle first; the first failure's error.
int evict(Mm& mm, uint32_t pool, const Handles& h) {
  for (uint64_t handle : {h.middle, h.first, h.last})
    if (handle)
      if (const int ret = zswap_writeback_entry(mm, pool, handle)) return ret;
  return 0;
}

// next: the page back on the lists after an eviction that left objects (4.8 under pool->lock).
void relist(Mm& mm, uint32_t pool, Pfn zhdr) {
  if (full(Hr(mm, zhdr))) {
    buddy_add(mm, pool, zhdr, kBuddied);  // Full, add to buddied list
  } else {
    z3fold_compact_page(mm, zhdr);
    add_to_unbuddied(mm, pool, zhdr);
  }
}

}  // namespace

int z3fold_alloc(Mm& mm, uint32_t pool, size_t size, gfp_t gfp, uint64_t* handle) {
  MODEL_FUNC("z3fold_alloc");
  if (!size || (gfp & __GFP_HIGHMEM)) return -EINVAL;
  if (size > PAGE_SIZE) return -ENOSPC;
  const bool headless = size > PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE;
  const uint32_t chunks = headless ? 0 : size_to_chunks(size);
  return page_locks(mm) ? alloc_page_locked(mm, pool, chunks, headless, gfp, handle)
                        : alloc_pool_locked(mm, pool, chunks, headless, gfp, handle);
}

void z3fold_free(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("z3fold_free");
  if (krefs(mm)) return free_kref(mm, pool, handle);
  if (page_locks(mm)) return free_page_locked(mm, pool, handle);
  free_pool_locked(mm, pool, handle);
}

int z3fold_reclaim_page(Mm& mm, uint32_t pool, uint32_t retries) {
  MODEL_FUNC("z3fold_reclaim_page");
  Z3foldPool& p = pool_of(mm, pool);
  const bool locks = page_locks(mm), kref = krefs(mm);
  spin_lock(p.lock);
  // (zswap always has an evict handler.) 4.8 looks at the LRU once; since "use per-page
  // spinlock", before each retry.
  if (!locks) sched(Op::Read, Access::Read, list_obj(p.lru), here());
  if ((!locks && list_empty(mm, p.lru)) || retries == 0) {
    spin_unlock(p.lock);
    return -EINVAL;
  }
  for (uint32_t i = 0; i < retries; ++i) {
    if (locks) {
      sched(Op::Read, Access::Read, list_obj(p.lru), here());
      if (list_empty(mm, p.lru)) {
        spin_unlock(p.lock);
        return -EINVAL;
      }
    }
    const Pfn page = mm.lists[p.lru].last, zhdr = page;
    if (kref) {
      list_del_init(mm, page, here());
    } else {
      list_del(mm, page, here());
      set_priv(mm, UNDER_RECLAIM, page);  // Protect z3fold page against free
    }
    Handles h;
    if (!test_priv(mm, PAGE_HEADLESS, page)) {
      if (!kref || !buddy_empty(mm, zhdr)) buddy_del_init(mm, pool, zhdr);
      if (kref) kref_get(mm, zhdr);
      if (locks) {
        spin_unlock(p.lock);
        z3fold_page_lock(mm, zhdr);
      }
      h = encode_handles(mm, zhdr);
      if (locks) z3fold_page_unlock(mm, zhdr);
    } else {
      h.first = encode_handle(mm, zhdr, HEADLESS);
      if (locks) spin_unlock(p.lock);
    }
    if (!locks) spin_unlock(p.lock);
    const int ret = evict(mm, pool, h);
    // next:
    if (kref) {
      if (test_priv(mm, PAGE_HEADLESS, page)) {
        if (ret == 0) {
          free_z3fold_page(mm, page, true);
          return 0;
        }
        spin_lock(p.lock);
      } else {
        z3fold_page_lock(mm, zhdr);
        const Z3foldHeader hdr = Hr(mm, zhdr);
        if (!all_free(hdr) && !full(hdr)) {
          z3fold_compact_page(mm, zhdr);
          spin_lock(p.lock);  // add to unbuddied list
          add_to_unbuddied(mm, pool, zhdr);
          spin_unlock(p.lock);
        }
        z3fold_page_unlock(mm, zhdr);
        spin_lock(p.lock);
        if (kref_put_release(mm, pool, zhdr)) {
          // Before "fix spinlock unlocking in page reclaim", with pool->lock held.
          if (has(mm, Fix::Z3foldReclaimUnlock)) spin_unlock(p.lock);
          p.pages_nr--;
          return 0;
        }
      }
    } else {
      // 4.8 under pool->lock; then under the page lock, which a headless page has not.
      if (!locks)
        spin_lock(p.lock);
      else if (!test_priv(mm, PAGE_HEADLESS, page))
        z3fold_page_lock(mm, zhdr);
      clear_priv(mm, UNDER_RECLAIM, page);
      if ((test_priv(mm, PAGE_HEADLESS, page) && ret == 0) || header_all_free(mm, zhdr)) {
        // All buddies are now free, free the z3fold page and return success.
        const bool headless = test_and_clear_priv(mm, PAGE_HEADLESS, page);
        if (locks && !headless) z3fold_page_unlock(mm, zhdr);
        free_z3fold_page(mm, page, headless);
        p.pages_nr--;
        if (!locks) spin_unlock(p.lock);
        return 0;
      }
      if (!test_priv(mm, PAGE_HEADLESS, page)) {
        if (locks) spin_lock(p.lock);
        relist(mm, pool, zhdr);
        if (locks) spin_unlock(p.lock);
      }
      if (locks) {
        if (!test_priv(mm, PAGE_HEADLESS, page)) z3fold_page_unlock(mm, zhdr);
        spin_lock(p.lock);
      }
    }
    list_add(mm, page, p.lru, here());  // add to beginning of LRU
  }
  spin_unlock(p.lock);
  return -EAGAIN;
}

uint64_t z3fold_map(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("z3fold_map");
  const bool locks = page_locks(mm);
  if (!locks) spin_lock(pool_of(mm, pool).lock);
  const Pfn zhdr = addr_to_zhdr(handle), page = zhdr;
  uint64_t addr = page_address(zhdr);
  if (!test_priv(mm, PAGE_HEADLESS, page)) {
    if (locks) z3fold_page_lock(mm, zhdr);
    switch (const z3fold_buddy buddy = handle_to_buddy(mm, handle)) {
      case FIRST: addr += ZHDR_SIZE_ALIGNED; break;
      case MIDDLE:
        addr += uint64_t(Hr(mm, zhdr).start_middle) << CHUNK_SHIFT;
        set_priv(mm, MIDDLE_CHUNK_MAPPED, page);
        break;
      case LAST: addr += PAGE_SIZE - (uint64_t(Hr(mm, zhdr).last_chunks) << CHUNK_SHIFT); break;
      default:
        WARN(REPORT_FUNC_HERE(), BUG_SITE("WARN_ON(1)"), {"unknown buddy id " + std::to_string(buddy)});
        addr = 0;
        break;
    }
    if (locks) z3fold_page_unlock(mm, zhdr);
  }
  if (!locks) spin_unlock(pool_of(mm, pool).lock);
  return addr;
}

void z3fold_unmap(Mm& mm, uint32_t pool, uint64_t handle) {
  MODEL_FUNC("z3fold_unmap");
  const bool locks = page_locks(mm);
  if (!locks) spin_lock(pool_of(mm, pool).lock);
  const Pfn zhdr = addr_to_zhdr(handle), page = zhdr;
  if (!test_priv(mm, PAGE_HEADLESS, page)) {
    if (locks) z3fold_page_lock(mm, zhdr);
    if (handle_to_buddy(mm, handle) == MIDDLE) clear_priv(mm, MIDDLE_CHUNK_MAPPED, page);
    if (locks) z3fold_page_unlock(mm, zhdr);
  }
  if (!locks) spin_unlock(pool_of(mm, pool).lock);
}

}  // namespace pagesim::drivers::z3fold_4_8
