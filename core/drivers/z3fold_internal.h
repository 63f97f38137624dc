// What the two halves of z3fold's model share: mm/z3fold.c from 4.14 on (z3fold.cpp) and
// before d30561c56f41's per-CPU unbuddied lists (z3fold_4_8.cpp, 4.8 to 4.13). Not for
// other drivers: the public interface is drivers/z3fold.h.
#pragma once
#include <string>

#include "drivers/z3fold.h"
#include "engine/bug_site.h"

// WARN_ON(cond), the kernel's `text` of it: reported, and the code goes on.
#define Z3_WARN_ON(cond, text, what) \
  ((cond) ? (::pagesim::WARN(REPORT_FUNC_HERE(), BUG_SITE(text), {what}), true) : false)

namespace pagesim::drivers {

namespace z3fold_impl {

Z3fold& Z(mm::Mm& mm);
bool has(const mm::Mm& mm, Fix f);
// zhdr->pool dereferenced: KASAN checks the pool is live.
Z3foldPool& pool_of(mm::Mm& mm, uint32_t pool);
ObjId lists_obj(uint32_t pool);  // the unbuddied (and buddied) lists and stale
std::string pfn_name(mm::Pfn pfn);

// The page's memory, and its header through an access (a scheduling point, then KASAN's check).
Z3foldPageMem& page_mem(mm::Mm& mm, mm::Pfn pfn);
Z3foldHeader& H(mm::Mm& mm, mm::Pfn zhdr, Op op, uint32_t line);
Z3foldHeader& Hr(mm::Mm& mm, mm::Pfn zhdr, uint32_t line = here());
Z3foldHeader& Hw(mm::Mm& mm, mm::Pfn zhdr, uint32_t line = here());
// Bytes of the header in chunks: two from d30561c56f41 (its work_struct), one before.
uint32_t zhdr_chunks(const mm::Mm& mm);
// The handle's buddy index mask: 0x3 since f201ebd87652 (first_num:2), 63 before.
uint32_t buddy_mask(const mm::Mm& mm);

// page->private's z3fold bits.
bool test_priv(mm::Mm& mm, int nr, mm::Pfn page, uint32_t line = here());
void set_priv(mm::Mm& mm, int nr, mm::Pfn page, uint32_t line = here());
void clear_priv(mm::Mm& mm, int nr, mm::Pfn page, uint32_t line = here());
bool test_and_clear_priv(mm::Mm& mm, int nr, mm::Pfn page, uint32_t line = here());

// zhdr->page_lock (5a27aa822029's predecessor, "use per-page spinlock", 4.11).
void z3fold_page_lock(mm::Mm& mm, mm::Pfn zhdr, uint32_t line = here());
bool z3fold_page_trylock(mm::Mm& mm, mm::Pfn zhdr, uint32_t line = here());
void z3fold_page_unlock(mm::Mm& mm, mm::Pfn zhdr, uint32_t line = here());

// page_address() and addr & PAGE_MASK.
uint64_t page_address(mm::Pfn pfn);
mm::Pfn addr_to_zhdr(uint64_t addr);

// zhdr->buddy on the pool's lists (list_del_init, list_empty, list_add), page->lru on pool->lru.
void buddy_del_init(mm::Mm& mm, uint32_t pool, mm::Pfn zhdr);
bool buddy_empty(mm::Mm& mm, mm::Pfn zhdr);
void buddy_add(mm::Mm& mm, uint32_t pool, mm::Pfn zhdr, int32_t list);
void init_page_lru(mm::Mm& mm, mm::Pfn page);
bool page_lru_listed(mm::Mm& mm, mm::Pfn page);
void lru_del(mm::Mm& mm, mm::Pfn page);

// The buddy an unbuddied page gives `chunks` (HEADLESS: none).
z3fold_buddy get_free_buddy(const mm::Mm& mm, const Z3foldHeader& h, uint32_t chunks);
// The chunks free for another object: NCHUNKS (the page less the header's) if none.
uint32_t num_free_chunks(const mm::Mm& mm, const Z3foldHeader& h);
// found: the new object's chunks in the header (a middle one right after the first).
void set_chunks(mm::Mm& mm, mm::Pfn zhdr, z3fold_buddy bud, uint32_t chunks);
uint32_t size_to_chunks(size_t size);
void free_z3fold_page(mm::Mm& mm, mm::Pfn page, bool headless);
void mchunk_memmove(mm::Mm& mm, mm::Pfn zhdr, uint16_t dst_chunk);
// Moves the middle object within the page (the page's lock held; 4.8's pool->lock).
int z3fold_compact_page(mm::Mm& mm, mm::Pfn zhdr);
void kref_get(mm::Mm& mm, mm::Pfn zhdr);
// zswap's eviction handler.
int zswap_writeback_entry(mm::Mm& mm, uint32_t pool, uint64_t handle);

}  // namespace z3fold_impl

// z3fold before d30561c56f41 (4.14): 4.8.0's mm/z3fold.c and the 4.11 rework, behind
// their named fixes. The public functions of z3fold.h call these on such a kernel.
namespace z3fold_4_8 {
// The unbuddied lists (NCHUNKS of them, the header taking one chunk), then `buddied`.
inline constexpr uint32_t NCHUNKS = z3::TOTAL_CHUNKS - 1;
inline constexpr int32_t kBuddied = int32_t(NCHUNKS);
inline constexpr size_t kLists = NCHUNKS + 1;

int z3fold_alloc(mm::Mm& mm, uint32_t pool, size_t size, mm::gfp_t gfp, uint64_t* handle);
void z3fold_free(mm::Mm& mm, uint32_t pool, uint64_t handle);
int z3fold_reclaim_page(mm::Mm& mm, uint32_t pool, uint32_t retries);
uint64_t z3fold_map(mm::Mm& mm, uint32_t pool, uint64_t handle);
void z3fold_unmap(mm::Mm& mm, uint32_t pool, uint64_t handle);
}  // namespace z3fold_4_8

}  // namespace pagesim::drivers
