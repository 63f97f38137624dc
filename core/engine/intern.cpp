#include "engine/intern.h"

#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace pagesim {
namespace {

// Fixed capacity so that readers never need the lock: an entry is written once,
// before its id is handed out, and never moves.
constexpr uint32_t kCapacity = detail::kInternCapacity;

struct Table {
  std::mutex mu;
  std::unique_ptr<std::string[]> strings{new std::string[kCapacity]};
  std::unique_ptr<uint64_t[]> hashes{new uint64_t[kCapacity]};
  uint32_t size = 0;
  std::unordered_map<std::string_view, uint32_t> ids;
  Table() { add(""); }
  uint32_t add(std::string_view s) {
    if (size == kCapacity) throw std::length_error("pagesim: too many interned strings");
    strings[size] = std::string(s);
    hashes[size] = string_hash(s);
    ids.emplace(strings[size], size);
    return size++;
  }
};

Table& table() {
  static Table t;
  return t;
}

}  // namespace

uint32_t intern(std::string_view s) {
  auto& t = table();
  std::lock_guard g(t.mu);
  if (auto it = t.ids.find(s); it != t.ids.end()) return it->second;
  return t.add(s);
}

uint64_t string_hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

const std::string& interned(uint32_t id) { return table().strings[id < kCapacity ? id : 0]; }
namespace detail {
const uint64_t* const interned_hashes = table().hashes.get();
}  // namespace detail

}  // namespace pagesim
