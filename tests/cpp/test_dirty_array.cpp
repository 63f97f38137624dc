// DirtyArray with elements that are not trivially copyable (a zsmalloc pool's size
// classes hold their fullness lists in vectors): a dirty restore equals a full copy, a
// grown array is copied whole, and emplace_back's element is written.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/dirty_array.h"

using namespace pagesim;

namespace {

using Lists = DirtyArray<std::vector<uint32_t>>;

Lists filled(size_t n) {
  Lists a;
  a.assign(n, {});
  for (size_t i = 0; i < n; i += 3) a.write(i).assign(i % 5, uint32_t(i));
  return a;
}

bool same(const Lists& a, const Lists& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

}  // namespace

TEST(DirtyArray, NonTrivialElementsRestoreOnlyWhatWasWritten) {
  const Lists src = filled(200);  // four bitmap words, the last partial
  Lists w = src;
  for (int round = 0; round < 50; ++round) {
    size_t written = 0;
    for (size_t i = size_t(round); i < w.size(); i += 7 + size_t(round)) {
      w.write(i).push_back(uint32_t(round));
      ++written;
    }
    if (round % 10 == 9)  // a whole word: element by element, as T is not trivially copyable
      for (size_t i = 64; i < 128; ++i) w.write(i).clear();
    const size_t expect = w.dirty_count();
    EXPECT_GE(expect, written);
    w = src;
    EXPECT_TRUE(same(w, src)) << "round " << round;
    EXPECT_EQ(w.copied(), expect) << "round " << round;
  }
}

TEST(DirtyArray, EmplaceBackWritesTheNewElementAndAGrownArrayIsCopiedWhole) {
  Lists src = filled(64);  // a full bitmap word: the next element needs another
  Lists w = src;
  w.emplace_back().push_back(7);
  EXPECT_EQ(w.size(), 65u);
  EXPECT_EQ(w.dirty_count(), 1u);
  w = src;  // another size: a whole copy
  EXPECT_EQ(w.copied(), 64u);
  EXPECT_TRUE(same(w, src));
  src.emplace_back().push_back(8);  // the source grows: written, so copied whole
  w = src;
  EXPECT_EQ(w.copied(), 65u);
  EXPECT_TRUE(same(w, src));
  w.write(64).clear();
  w = src;
  EXPECT_EQ(w.copied(), 1u);
  EXPECT_EQ(w[64], std::vector<uint32_t>{8});
}
