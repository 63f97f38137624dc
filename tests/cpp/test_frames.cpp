// A task's simulated call stack: frames past the inline ones spill to the heap and keep
// their order; the innermost frame (0 when empty), copies and the way back to inline
// storage work.
#include <gtest/gtest.h>

#include "engine/frames.h"

using namespace pagesim;

TEST(FrameStack, SpillsPastTheInlineFramesAndKeepsTheOrder) {
  FrameStack f;
  for (int round = 0; round < 2; ++round) {
    const uint32_t n = 3 * FrameStack::kInline;
    for (uint32_t i = 0; i < n; ++i) {
      f.push_back(i);
      ASSERT_EQ(f.back(), i);
      ASSERT_EQ(f.top(), i);
      ASSERT_EQ(f.size(), i + 1);
    }
    uint32_t next = 0;
    for (uint32_t x : f) EXPECT_EQ(x, next++);
    EXPECT_EQ(*f.rbegin(), n - 1);
    const FrameStack copy = f;
    for (uint32_t i = n; i-- > 0;) {
      ASSERT_EQ(f.back(), i);
      f.pop_back();
      ASSERT_EQ(f.top(), i ? i - 1 : 0);  // 0: no function
    }
    EXPECT_TRUE(f.empty());
    EXPECT_EQ(copy.size(), n);
    EXPECT_EQ(copy.back(), n - 1);
  }
}
