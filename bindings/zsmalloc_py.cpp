// Python views of the zsmalloc and zram driver state (pagesim._core). Each takes a
// KernelState (`k.state`, the initial state, or `run.kernel`, a run's final state).
#include <pybind11/stl.h>

#include "drivers/drivers.h"
#include "kernel/kernel.h"
#include "machine.h"
#include "py_common.h"

namespace pagesim::py_glue {
namespace {

using drivers::Zsmalloc;

const drivers::ZsPool& check_pool(const KernelView& v, long pool) {
  const auto& pools = v.k->zsmalloc.pools;
  if (pool < 0 || size_t(pool) >= pools.size())
    throw UsageError("no zsmalloc pool " + std::to_string(pool) + " (" + std::to_string(pools.size()) +
                     " pool(s) created)");
  return pools[size_t(pool)];
}

uint64_t check_handle(const KernelView& v, long pool, long handle) {
  check_pool(v, pool);
  if (!drivers::zs_handle_valid(*v.k, uint32_t(pool), uint64_t(handle)))
    throw UsageError("handle " + std::to_string(handle) + " of pool " + std::to_string(pool) +
                     " is not allocated (freed, or never returned by zs_malloc)");
  return uint64_t(handle);
}

py::dict class_dict(const kernel::Kernel& k, const drivers::SizeClass& c, uint32_t pool) {
  const Zsmalloc& z = k.zsmalloc;
  py::dict d;
  d["index"] = c.index;
  d["size"] = c.size;
  d["pages_per_zspage"] = c.pages_per_zspage;
  d["objs_per_zspage"] = c.objs_per_zspage;
  py::dict lists;
  const bool ratio = k.cfg.has(Fix::ZsInuseRatioGroups);
  for (int fg = 0; fg < (ratio ? drivers::NR_FULLNESS_GROUPS : drivers::NR_ZS_FULLNESS); ++fg)
    lists[drivers::fullness_name(fg, ratio).c_str()] = c.fullness_list[size_t(fg)].size();
  d["zspages"] = lists;
  uint64_t isolated = 0, total = 0;
  for (uint32_t id = 1; id < z.zspages.size(); ++id) {
    const auto& zp = z.zspages[id];
    if (!zp.allocated || zp.pool != pool || zp.class_idx != c.index) continue;
    ++total;
    if (zp.isolated) ++isolated;
  }
  d["nr_zspages"] = total;
  d["isolated_zspages"] = isolated;
  d["objs_allocated"] = c.stats[drivers::OBJ_ALLOCATED];
  d["objs_used"] = c.stats[drivers::OBJ_USED];
  return d;
}

}  // namespace

void register_zsmalloc(py::module_& m) {
  m.def(
      "zs_handle_obj", [](uint32_t pool, uint64_t handle) { return drivers::zs_handle_obj(pool, handle); },
      py::arg("pool"), py::arg("handle"),
      "The object id of a handle (its pin bit), for script breakpoints such as "
      "(cpu, 'after', 'record_obj', zs_handle_obj(pool, h), 0).");
  m.def(
      "zspage_obj", [](uint32_t id) { return drivers::zspage_obj(id); }, py::arg("zspage"),
      "The object id of a zspage (its fields and migrate lock), for script breakpoints.");
  m.def(
      "zs_pages_of",
      [](const KernelView& v, long pool, long handle) {
        return drivers::zs_pages_of(*v.k, uint32_t(pool), check_handle(v, pool, handle));
      },
      py::arg("state"), py::arg("pool"), py::arg("handle"),
      "The pfns of the zspage holding the handle's object, first page first.");
  m.def(
      "zs_handle",
      [](const KernelView& v, long pool, long handle) {
        const uint64_t h = check_handle(v, pool, handle);
        const auto& hs = v.k->zsmalloc.pools[size_t(pool)].handles[h - 1];
        const uint64_t obj = hs.word >> drivers::zs::OBJ_TAG_BITS;
        py::dict d;
        d["pfn"] = obj >> drivers::zs::OBJ_INDEX_BITS;
        d["obj_idx"] = obj & drivers::zs::OBJ_INDEX_MASK;
        d["pinned"] = bool(hs.word & 1);
        d["zspage"] = drivers::zs_zspage_of(*v.k, uint32_t(pool), h);
        d["content"] = drivers::zs_peek(*v.k, uint32_t(pool), h);
        d["written"] = hs.written;
        return d;
      },
      py::arg("state"), py::arg("pool"), py::arg("handle"),
      "Where a handle's object lives: pfn, obj_idx, zspage, pinned, content (in memory) and "
      "written (what the last write stored).");
  m.def(
      "zs_stats",
      [](const KernelView& v, long pool) {
        const auto& p = check_pool(v, pool);
        py::dict d;
        d["name"] = p.name;
        d["live"] = p.live;
        d["pages_used"] = p.pages_allocated;
        d["pages_compacted"] = p.pages_compacted;
        uint64_t objects = 0;
        for (const auto& h : p.handles) objects += h.allocated;
        d["objects"] = objects;
        py::list classes;
        for (const auto& c : p.classes) {
          bool used = c.stats[drivers::OBJ_ALLOCATED] != 0;
          used |= !c.fullness_list.all_empty();
          if (used) classes.append(class_dict(*v.k, c, uint32_t(pool)));
        }
        d["classes"] = classes;
        d["free_work_pending"] = v.k->works[p.free_work].pending;
        return d;
      },
      py::arg("state"), py::arg("pool"),
      "Pool statistics: pages_used, objects (live handles), pages_compacted, and per class in "
      "use its zspages per fullness group, isolated zspages and object counts.");
  m.def(
      "zs_check", [](const KernelView& v, bool settled) { return drivers::zsmalloc_check(*v.k, settled); },
      py::arg("state"), py::arg("settled") = true,
      "zsmalloc invariants as messages (empty: consistent). settled: every task is done, so "
      "nothing may be isolated, pinned or waiting for the free worker.");
  m.def(
      "zram_stats",
      [](const KernelView& v) {
        const auto& z = v.k->zram;
        if (!z.live) throw UsageError("zram: no device");
        py::dict d;
        d["pool"] = z.pool;
        d["slots"] = z.table.size();
        d["pages_stored"] = z.stats.pages_stored;
        d["compr_data_size"] = z.stats.compr_data_size;
        d["zero_pages"] = z.stats.zero_pages;
        d["notify_free"] = z.stats.notify_free;
        d["failed_writes"] = z.stats.failed_writes;
        d["failed_reads"] = z.stats.failed_reads;
        d["writestall"] = z.stats.writestall;
        d["miss_free"] = z.stats.miss_free;
        d["bd_count"] = z.stats.bd_count;    // bd_stat (23eddf39b2c2)
        d["bd_reads"] = z.stats.bd_reads;
        d["bd_writes"] = z.stats.bd_writes;
        d["bd_wb_limit"] = z.bd_wb_limit;    // writeback_limit (bb416d18b850)
        py::list handles, blocks;
        for (const auto& s : z.table) {
          const bool wb = (s.value >> drivers::ZRAM_WB) & 1;
          handles.append(wb ? 0 : s.handle);
          blocks.append(wb ? s.handle : 0);
        }
        d["handles"] = handles;
        d["wb_blocks"] = blocks;
        d["backing_blocks"] = z.bdev.nr_pages;
        return d;
      },
      py::arg("state"), "zram device statistics, the handle of every slot (0: none) and, with a backing "
      "device (backing_blocks), the block of every written-back slot (wb_blocks).");
  m.def(
      "zram_check", [](const KernelView& v) { return drivers::zram_check(*v.k); }, py::arg("state"),
      "zram invariants as messages (empty: consistent).");
}

}  // namespace pagesim::py_glue
