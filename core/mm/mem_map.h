// mem_map: the struct pages of the world, by pfn. Exploration restores the world before
// every execution by copy-assigning it from the scenario's initial snapshot, and an
// execution writes only a handful of pages; so the array records every pfn handed out for
// writing in a bitmap, and a copy from the array it was last copied from copies only
// those pages, when that source has not been written since. Reads go through the const
// API; the only mutable access is write(), so no write can escape the bitmap.
#pragma once
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "mm/page.h"

namespace pagesim::mm {

static_assert(std::is_trivially_copyable_v<Page>);

class MemMap {
 public:
  MemMap() = default;
  // A copy starts clean, with its source as its base.
  MemMap(const MemMap& o)
      : pages_(o.pages_), dirty_(o.dirty_.size(), 0), base_id_(o.id_), base_version_(o.version_) {}
  // The new array takes over the contents, base and dirty pages; the moved-from one is empty.
  MemMap(MemMap&& o) noexcept
      : pages_(std::move(o.pages_)), dirty_(std::move(o.dirty_)), base_id_(o.base_id_),
        base_version_(o.base_version_) {
    o.forget();
  }
  MemMap& operator=(const MemMap& o) {
    if (this == &o) return *this;
    if (base_id_ == o.id_ && base_version_ == o.version_ && pages_.size() == o.pages_.size())
      copied_ = copy_dirty(o);
    else
      copied_ = copy_all(o);
    base_id_ = o.id_;
    base_version_ = o.version_;
    ++version_;
    return *this;
  }
  MemMap& operator=(MemMap&& o) noexcept {
    if (this == &o) return *this;
    pages_ = std::move(o.pages_);
    dirty_ = std::move(o.dirty_);
    base_id_ = o.base_id_;
    base_version_ = o.base_version_;
    ++version_;
    o.forget();
    return *this;
  }
  ~MemMap() = default;

  // The only mutable access: marks pfn dirty and this array as written. The reference
  // must not outlive the next copy from this array (model code holds it within a step).
  Page& write(Pfn pfn) {
    dirty_[pfn / 64] |= uint64_t(1) << (pfn % 64);
    ++version_;
    return pages_[pfn];
  }
  // init_memory: n pages of value v, all to be copied by the next assignment from here.
  void assign(size_t n, const Page& v) {
    pages_.assign(n, v);
    dirty_.assign((n + 63) / 64, 0);
    base_id_ = 0;
    ++version_;
  }

  size_t size() const { return pages_.size(); }
  bool empty() const { return pages_.empty(); }
  const Page& operator[](size_t pfn) const { return pages_[pfn]; }
  const Page* data() const { return pages_.data(); }
  std::vector<Page>::const_iterator begin() const { return pages_.begin(); }
  std::vector<Page>::const_iterator end() const { return pages_.end(); }

  // The array this one was last copied from (0: none), its version then, and a bit per
  // pfn written since: a page whose bit is clear is as it was in that source.
  uint64_t base_id() const { return base_id_; }
  uint64_t base_version() const { return base_version_; }
  const uint64_t* written() const { return dirty_.data(); }

  // For tests: pages written since the last copy from the base, and how many pages the
  // last copy-assignment copied.
  size_t dirty_count() const {
    size_t n = 0;
    for (uint64_t w : dirty_) n += size_t(std::popcount(w));
    return n;
  }
  size_t copied() const { return copied_; }

 private:
  static uint64_t next_id() {
    static std::atomic<uint64_t> last{0};  // worlds may be created on several threads
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  size_t copy_all(const MemMap& o) {
    pages_ = o.pages_;
    dirty_.assign(o.dirty_.size(), 0);
    return pages_.size();
  }
  // Word at a time over the bitmap; a fully dirty word copies its 64 pages at once.
  size_t copy_dirty(const MemMap& o) {
    Page* const to = pages_.data();
    const Page* const from = o.pages_.data();
    size_t n = 0;
    for (size_t w = 0; w < dirty_.size(); ++w) {
      uint64_t bits = dirty_[w];
      if (!bits) continue;
      dirty_[w] = 0;
      const size_t first = w * 64;
      if (bits == ~uint64_t(0)) {
        std::memcpy(to + first, from + first, 64 * sizeof(Page));
        n += 64;
        continue;
      }
      do {
        const size_t p = first + size_t(std::countr_zero(bits));
        to[p] = from[p];
        bits &= bits - 1;
        ++n;
      } while (bits);
    }
    return n;
  }
  void forget() {
    pages_.clear();
    dirty_.clear();
    base_id_ = 0;
    ++version_;
  }

  std::vector<Page> pages_;
  std::vector<uint64_t> dirty_;  // bit per pfn written since the last copy from the base
  uint64_t id_ = next_id();      // unique per array ever created (0: none)
  uint64_t version_ = 0;         // bumped by every write and assignment
  uint64_t base_id_ = 0;         // the array this one was last copied from
  uint64_t base_version_ = 0;    // its version then
  size_t copied_ = 0;
};

}  // namespace pagesim::mm
