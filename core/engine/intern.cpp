#include "engine/intern.h"

#include <sys/mman.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <unordered_map>

namespace pagesim {
namespace {

// Readers never take the lock: an entry is written once, before its id is handed out,
// and never moves. The hashes (read at every step, for trace hashes) are one array whose
// address space is reserved up front and whose pages the kernel commits as ids are used;
// the strings live in chunks allocated as needed. The only limit is memory.
constexpr uint32_t kCapacity = detail::kInternCapacity;
constexpr uint32_t kChunkBits = 12;
constexpr uint32_t kChunk = 1u << kChunkBits;

struct Table {
  std::mutex mu;
  uint64_t* hashes = nullptr;
  std::unique_ptr<std::unique_ptr<std::string[]>[]> chunks{
      new std::unique_ptr<std::string[]>[kCapacity / kChunk]};
  std::atomic<uint32_t> size{0};  // ids below it are written (release/acquire)
  std::unordered_map<std::string_view, uint32_t> ids;
  Table() {
    void* p = mmap(nullptr, size_t(kCapacity) * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    hashes = static_cast<uint64_t*>(p);
    add("");
  }
  std::string& at(uint32_t id) const { return chunks[id >> kChunkBits][id & (kChunk - 1)]; }
  uint32_t add(std::string_view s) {
    const uint32_t id = size.load(std::memory_order_relaxed);
    if (id == kCapacity) throw std::length_error("pagesim: too many interned strings");
    if (!chunks[id >> kChunkBits]) chunks[id >> kChunkBits].reset(new std::string[kChunk]);
    std::string& slot = at(id);
    slot = std::string(s);
    hashes[id] = string_hash(s);
    ids.emplace(slot, id);
    size.store(id + 1, std::memory_order_release);
    return id;
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

const std::string& interned(uint32_t id) {
  const Table& t = table();
  return t.at(id < t.size.load(std::memory_order_acquire) ? id : 0);
}
namespace detail {
const uint64_t* const interned_hashes = table().hashes;
}  // namespace detail

}  // namespace pagesim
