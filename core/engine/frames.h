// A task's simulated call stack: the model functions it is in, outermost first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

namespace pagesim {

// Kernel call chains are short: the frames live inline in the task, so entering a model
// function allocates nothing; a deeper stack moves to the heap and works the same.
class FrameStack {
 public:
  static constexpr size_t kInline = 32;

  bool empty() const { return n_ == 0; }
  size_t size() const { return n_; }
  uint32_t back() const { return top_; }
  // The innermost frame, 0 (no function) when the stack is empty: what every scheduling
  // point reads, kept apart so that it is one load.
  uint32_t top() const { return top_; }
  const uint32_t* begin() const { return data(); }
  const uint32_t* end() const { return data() + n_; }
  std::reverse_iterator<const uint32_t*> rbegin() const { return std::make_reverse_iterator(end()); }
  std::reverse_iterator<const uint32_t*> rend() const { return std::make_reverse_iterator(begin()); }

  void push_back(uint32_t func) {
    if (n_ < kInline && spill_.empty()) [[likely]]
      inline_[n_] = func;
    else
      spill(func);
    ++n_;
    top_ = func;
  }
  void pop_back() {
    --n_;
    if (!spill_.empty()) spill_.pop_back();
    top_ = n_ ? data()[n_ - 1] : 0;
  }

 private:
  // Once spilled, every frame is in spill_ until the stack is empty again.
  const uint32_t* data() const { return spill_.empty() ? inline_ : spill_.data(); }
  [[gnu::noinline]] void spill(uint32_t func) {
    if (spill_.empty()) spill_.assign(inline_, inline_ + n_);
    spill_.push_back(func);
  }

  // The hot fields first: they share a cache line with the task's pending operation.
  uint32_t n_ = 0;
  uint32_t top_ = 0;
  std::vector<uint32_t> spill_;
  uint32_t inline_[kInline] = {};
};

}  // namespace pagesim
