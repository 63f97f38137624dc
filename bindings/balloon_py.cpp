// Python views of the balloon driver and the movable test driver state (pagesim._core).
#include <pybind11/stl.h>

#include "drivers/balloon.h"
#include "drivers/test_driver.h"
#include "kernel/kernel.h"
#include "machine.h"
#include "py_common.h"

namespace pagesim::py_glue {

void register_balloon(py::module_& m) {
  m.def(
      "balloon_state",
      [](const KernelView& v) {
        const drivers::Balloon& bl = v.k->balloon;
        py::dict d;
        d["present"] = bl.present;
        const std::vector<mm::Pfn> pages = drivers::balloon_pages(*v.k);
        d["pages"] = pages;
        d["list_pages"] = pages.size();
        d["isolated_pages"] = bl.vb_dev_info.isolated_pages;
        d["num_pages"] = bl.vb.num_pages;
        d["host_inflated"] = std::vector<mm::Pfn>(bl.host.inflated.begin(), bl.host.inflated.end());
        d["host_inflated_count"] = bl.host.inflated.size();
        d["host_errors"] = bl.host.errors;
        d["host_inflate_msgs"] = bl.host.inflate_msgs;
        d["host_deflate_msgs"] = bl.host.deflate_msgs;
        py::dict ev;
        ev["balloon_inflate"] = bl.events[drivers::BALLOON_INFLATE];
        ev["balloon_deflate"] = bl.events[drivers::BALLOON_DEFLATE];
        ev["balloon_migrate"] = bl.events[drivers::BALLOON_MIGRATE];
        d["events"] = ev;
        return d;
      },
      py::arg("state"),
      "The virtio balloon of a kernel state: pages (the balloon list, in list order), "
      "isolated_pages, num_pages, the host's inflated pfns, and the BALLOON_* events.");
  // Objects of the balloon, for script breakpoints: (cpu, "before", "balloon_page_isolate",
  // BALLOON_OBJECTS["balloon_dev_info"], 0) stops right after its list_del.
  py::dict objs;
  objs["pages_lock"] = make_obj(drivers::kBalloonPagesLockClass, 0);
  objs["balloon_lock"] = make_obj(drivers::kBalloonLockClass, 0);
  objs["inflate_vq"] = make_obj(drivers::kBalloonVqClass, 0);
  objs["deflate_vq"] = make_obj(drivers::kBalloonVqClass, 1);
  objs["balloon_dev_info"] = make_obj(drivers::kBalloonDevClass, 0);
  objs["pfns"] = make_obj(drivers::kBalloonDevClass, drivers::kVbPfns);
  m.attr("BALLOON_OBJECTS") = objs;
  m.def(
      "balloon_check", [](const KernelView& v) { return drivers::balloon_check(*v.k); },
      py::arg("state"),
      "Consistency of a quiescent balloon (list, isolated_pages, num_pages, the host's view); "
      "empty when consistent.");

  py::dict options;
  for (size_t i = 0; i < drivers::kTestDriverOptionCount; ++i)
    options[drivers::test_driver_option_name(drivers::TestDriverOption(i))] = i;
  m.attr("TEST_DRIVER_OPTIONS") = options;
  m.def(
      "test_driver_pages", [](const KernelView& v) { return drivers::test_driver_pages(*v.k); },
      py::arg("state"), "The pages of the test driver's live objects, in allocation order.");
  m.def(
      "test_driver_state",
      [](const KernelView& v) {
        const drivers::TestDriver& t = v.k->test_driver;
        py::dict d;
        d["present"] = t.present;
        d["pages"] = drivers::test_driver_pages(*v.k);
        py::list objects;
        for (const auto& o : t.objects) {
          py::dict od;
          od["pfn"] = o.live() ? py::object(py::int_(o.pfn)) : py::none();
          od["content"] = o.content;
          objects.append(od);
        }
        d["objects"] = objects;
        d["list_pages"] = t.present ? v.k->lists[t.pages].count : 0u;
        d["nr_isolated"] = t.nr_isolated;
        py::dict opts;
        for (size_t i = 0; i < drivers::kTestDriverOptionCount; ++i)
          opts[drivers::test_driver_option_name(drivers::TestDriverOption(i))] = t.options[i];
        d["options"] = opts;
        py::list mmaps;
        for (const auto& mp : t.mmaps) {
          py::dict md;
          md["object"] = mp.object;
          md["pid"] = mp.pid;
          md["vpage"] = mp.vpage;
          md["raw_pfn"] = mp.raw_pfn;
          mmaps.append(md);
        }
        d["mmaps"] = mmaps;
        py::dict calls;
        calls["isolate_page"] = t.isolate_calls;
        calls["migratepage"] = t.migrate_calls;
        calls["putback_page"] = t.putback_calls;
        d["calls"] = calls;
        d["migrated"] = t.migrated;
        d["released"] = t.released;
        return d;
      },
      py::arg("state"),
      "The movable test driver: its pages and objects, options, process mappings and the "
      "callbacks the VM made.");
  m.def(
      "test_driver_check", [](const KernelView& v) { return drivers::test_driver_check(*v.k); },
      py::arg("state"),
      "Consistency of the test driver (objects' pages, list, isolated count) and of process "
      "mappings of its pages (stale after a 4.8 migration, or use-after-free); empty when "
      "consistent.");
}

}  // namespace pagesim::py_glue
