#include "engine/objclass.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <string>

namespace pagesim {
namespace {

struct ClassInfo {
  std::atomic<const char*> name{nullptr};
  std::atomic<ObjFormatter> fmt{nullptr};
  std::atomic<BitNamer> bits{nullptr};
};
std::array<ClassInfo, 256>& classes() {
  static std::array<ClassInfo, 256> c;
  return c;
}

}  // namespace

void register_obj_class(uint8_t cls, const char* name, ObjFormatter fmt) {
  classes()[cls].name = name;
  classes()[cls].fmt = fmt;
}

void register_obj_bits(uint8_t cls, BitNamer namer) { classes()[cls].bits = namer; }

std::string obj_bit_name(ObjId id, int bit, const World* world) {
  if (auto namer = classes()[obj_class(id)].bits.load()) return namer(bit, world);
  return "bit " + std::to_string(bit);
}

std::string obj_label(ObjId id, const World* world) {
  const auto& info = classes()[obj_class(id)];
  if (auto fmt = info.fmt.load()) return fmt(obj_index(id), world);
  const char* name = info.name.load();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %llu", name ? name : "obj",
                (unsigned long long)obj_index(id));
  return buf;
}

}  // namespace pagesim
