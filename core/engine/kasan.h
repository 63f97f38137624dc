// KASAN for the model's kernel objects: where each was allocated and freed (the task and
// its simulated stack), and a use-after-free report, outcome uaf:<function>, when a task
// touches one that was freed.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pagesim {

// Where an allocation or a free happened: the task ("set-up" outside any) and its model
// functions, innermost first. Fixed-size (objects' states are copied every execution):
// a deeper stack keeps its innermost kKasanFrames frames.
inline constexpr size_t kKasanFrames = 16;
struct KasanTrack {
  uint32_t task = 0;      // interned name
  uint8_t depth = 0;      // frames recorded
  bool truncated = false;
  std::array<uint32_t, kKasanFrames> frames{};  // interned names
};

struct KasanObject {
  bool freed = false;
  KasanTrack alloc, free;
};

void kasan_alloc(KasanObject& o);
// kfree: a scheduling point that may touch anything (the object's fields are other
// objects of the model), so exploration orders it against every access that checks the
// object. A second free is reported as KASAN reports it ("double-free").
void kasan_free(KasanObject& o, const std::string& what, uint32_t line);
// kfree of an object whose free is already a scheduling point on the object itself
// (kmem_cache_free of a struct zspage): only what KASAN records. `type` and `id` name it
// in a double-free report.
void kasan_record_free(KasanObject& o, const char* type, uint64_t id);
[[noreturn]] void kasan_report(const KasanObject& o, const std::string& what, bool write,
                               const char* bug);
[[noreturn, gnu::cold]] void kasan_use_after_free(const KasanObject& o, const char* type,
                                                  const std::string& name, bool write);
// A task's access to an object (`type` `name`: "struct zs_pool" "zram"): a freed object
// ends the task, as a KASAN report under panic_on_warn would, with outcome
// uaf:<the innermost model function>.
inline void kasan_check(const KasanObject& o, const char* type, const std::string& name,
                        bool write = false) {
  if (o.freed) [[unlikely]]
    kasan_use_after_free(o, type, name, write);
}

}  // namespace pagesim
