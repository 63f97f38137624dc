// Interned strings (model function names, object labels). Ids are process-local;
// each string also has a content hash, which is what trace hashes use, so hashes
// agree between processes whatever order strings were interned in.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pagesim {

uint32_t intern(std::string_view s);
const std::string& interned(uint32_t id);
namespace detail {
extern const uint64_t* const interned_hashes;  // fixed array, written before ids are handed out
inline constexpr uint32_t kInternCapacity = 1u << 28;  // bounded by memory first
}  // namespace detail
inline uint64_t interned_hash(uint32_t id) {
  return detail::interned_hashes[id < detail::kInternCapacity ? id : 0];
}
// The same content hash for any string (FNV-1a), without interning it.
uint64_t string_hash(std::string_view s);

}  // namespace pagesim
