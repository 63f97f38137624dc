// Object classes: the top byte of an ObjId. Layers register a name (and optionally a
// formatter) for their classes so that reports say "page pfn 0x1a" instead of a number.
#pragma once
#include <cstdint>
#include <string>

#include "engine/types.h"

namespace pagesim {

class World;

namespace objclass {
inline constexpr uint8_t kLock = 1;       // scenario-level locks created from Python
inline constexpr uint8_t kWork = 2;       // work_struct
inline constexpr uint8_t kWorkqueue = 3;  // workqueue_struct
inline constexpr uint8_t kCounter = 4;    // scenario-level atomic counters
inline constexpr uint8_t kPage = 16;      // struct page, by pfn (mm)
inline constexpr uint8_t kPageList = 17;  // a list threaded through page->lru (mm)
inline constexpr uint8_t kZone = 18;      // zone->lock (mm)
inline constexpr uint8_t kLruLock = 19;   // zone_lru_lock (mm)
inline constexpr uint8_t kMapping = 20;   // struct address_space (mm)
inline constexpr uint8_t kKcompactd = 21; // pgdat->kcompactd_wait (mm)
inline constexpr uint8_t kVmstat = 22;    // the node's vmstat counters (mm/vmstat.h)
inline constexpr uint8_t kPtl = 23;       // a process's page table lock (mm/lru.h)
inline constexpr uint8_t kCapture = 24;   // a task's current->capture_control and its capc (mm)
inline constexpr uint8_t kShrinkerRwsem = 26;  // shrinker_rwsem (mm/shrinker.h)
inline constexpr uint8_t kKswapd = 25;    // pgdat->kswapd_wait and the node state kswapd loops on (mm)
// Drivers: each owns a range of classes.
inline constexpr uint8_t kZsmallocBase = 32;    // 32..39: zspage, handle, class lock, pool ...
inline constexpr uint8_t kZramBase = 40;        // 40..43
inline constexpr uint8_t kBalloonBase = 44;     // 44..47
inline constexpr uint8_t kTestDriverBase = 48;  // 48..51
inline constexpr uint8_t kZ3foldBase = 52;      // 52..55
}  // namespace objclass

// A formatter may use the world (for names) when one is given.
using ObjFormatter = std::string (*)(uint64_t index, const World* world);
void register_obj_class(uint8_t cls, const char* name, ObjFormatter fmt = nullptr);
std::string obj_label(ObjId id, const World* world = nullptr);
// The names of an object's flag bits (a page's PG_* flags), for traces; "bit N" without.
using BitNamer = const char* (*)(int bit, const World* world);
void register_obj_bits(uint8_t cls, BitNamer namer);
std::string obj_bit_name(ObjId id, int bit, const World* world = nullptr);

}  // namespace pagesim
