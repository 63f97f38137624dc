// An array that exploration restores cheaply. Exploration resets the world before every
// execution by copy-assigning it from the scenario's initial snapshot, and an execution
// writes only a few elements of each large array (mem_map's pages, a pool's size
// classes); so the array records every index handed out for writing in a bitmap, and a
// copy from the array it was last copied from copies only those elements, when that
// source has not been written since. Reads go through the const API; the only mutable
// accesses are write() and emplace_back(), so no write can escape the bitmap.
#pragma once
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace pagesim {

template <class T>
class DirtyArray {
 public:
  DirtyArray() = default;
  // A copy starts clean, with its source as its base.
  DirtyArray(const DirtyArray& o)
      : items_(o.items_), dirty_(o.dirty_.size(), 0), base_id_(o.id_), base_version_(o.version_) {}
  // The new array takes over the contents, base and dirty elements; the moved-from one is empty.
  DirtyArray(DirtyArray&& o) noexcept
      : items_(std::move(o.items_)), dirty_(std::move(o.dirty_)), base_id_(o.base_id_),
        base_version_(o.base_version_) {
    o.forget();
  }
  DirtyArray& operator=(const DirtyArray& o) {
    if (this == &o) return *this;
    if (base_id_ == o.id_ && base_version_ == o.version_ && items_.size() == o.items_.size())
      copied_ = copy_dirty(o);
    else
      copied_ = copy_all(o);
    base_id_ = o.id_;
    base_version_ = o.version_;
    ++version_;
    return *this;
  }
  DirtyArray& operator=(DirtyArray&& o) noexcept {
    if (this == &o) return *this;
    items_ = std::move(o.items_);
    dirty_ = std::move(o.dirty_);
    base_id_ = o.base_id_;
    base_version_ = o.base_version_;
    ++version_;
    o.forget();
    return *this;
  }
  ~DirtyArray() = default;

  // The only mutable access: marks i dirty and this array as written. The reference must
  // not outlive the next copy from this array (model code holds it within a step).
  T& write(size_t i) {
    dirty_[i / 64] |= uint64_t(1) << (i % 64);
    ++version_;
    return items_[i];
  }
  // n elements of value v, all to be copied by the next assignment from here.
  void assign(size_t n, const T& v) {
    items_.assign(n, v);
    dirty_.assign((n + 63) / 64, 0);
    base_id_ = 0;
    ++version_;
  }
  // A new last element (the array grows: the next assignment from here copies it whole).
  T& emplace_back() {
    if (items_.size() % 64 == 0) dirty_.push_back(0);
    ++version_;
    items_.emplace_back();
    return write(items_.size() - 1);
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const T& operator[](size_t i) const { return items_[i]; }
  const T* data() const { return items_.data(); }
  typename std::vector<T>::const_iterator begin() const { return items_.begin(); }
  typename std::vector<T>::const_iterator end() const { return items_.end(); }

  // The array this one was last copied from (0: none), its version then, and a bit per
  // element written since: an element whose bit is clear is as it was in that source.
  uint64_t base_id() const { return base_id_; }
  uint64_t base_version() const { return base_version_; }
  const uint64_t* written() const { return dirty_.data(); }

  // For tests: elements written since the last copy from the base, and how many elements
  // the last copy-assignment copied.
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

  size_t copy_all(const DirtyArray& o) {
    items_ = o.items_;
    dirty_.assign(o.dirty_.size(), 0);
    return items_.size();
  }
  // Word at a time over the bitmap; a fully dirty word of a trivially copyable T copies
  // its 64 elements at once.
  size_t copy_dirty(const DirtyArray& o) {
    T* const to = items_.data();
    const T* const from = o.items_.data();
    size_t n = 0;
    for (size_t w = 0; w < dirty_.size(); ++w) {
      uint64_t bits = dirty_[w];
      if (!bits) continue;
      dirty_[w] = 0;
      const size_t first = w * 64;
      if constexpr (std::is_trivially_copyable_v<T>) {
        if (bits == ~uint64_t(0)) {
          std::memcpy(to + first, from + first, 64 * sizeof(T));
          n += 64;
          continue;
        }
      }
      do {
        const size_t i = first + size_t(std::countr_zero(bits));
        to[i] = from[i];
        bits &= bits - 1;
        ++n;
      } while (bits);
    }
    return n;
  }
  void forget() {
    items_.clear();
    dirty_.clear();
    base_id_ = 0;
    ++version_;
  }

  std::vector<T> items_;
  std::vector<uint64_t> dirty_;  // bit per element written since the last copy from the base
  uint64_t id_ = next_id();      // unique per array ever created (0: none)
  uint64_t version_ = 0;         // bumped by every write and assignment
  uint64_t base_id_ = 0;         // the array this one was last copied from
  uint64_t base_version_ = 0;    // its version then
  size_t copied_ = 0;
};

}  // namespace pagesim
