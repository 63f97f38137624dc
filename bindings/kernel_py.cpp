// The kernel model as Python sees it: `pagesim.Kernel`, a machine whose world is a Kernel
// configured from a preset, with set-up calls, kernel entry points as tasks, and views of
// page state.
#include <pybind11/stl.h>

#include "kernel/bug_lines.h"
#include "kernel/entry.h"
#include "kernel/kernel.h"
#include "machine.h"
#include "mm/compaction.h"
#include "mm/kswapd.h"
#include "mm/lru.h"
#include "mm/page_ops.h"
#include "mm/vmstat.h"

namespace pagesim::py_glue {
namespace {

using kernel::Kernel;
using mm::Pfn;

// A call of a kernel entry point, yielded by a Python task: `yield ps.call("zs_free", h)`.
struct KernelCall {
  const kernel::EntryPoint* entry;
  std::vector<int64_t> args;
};

// A read of a vmstat counter by a Python task: `yield ps.vmstat("nr_isolated_anon")`.
struct StatRead {
  mm::Stat stat;
};

mm::Stat stat_by_name(const std::string& name) {
  std::vector<std::string> names;
  for (size_t i = 0; i < size_t(mm::Stat::Count_); ++i) {
    if (name == mm::stat_name(mm::Stat(i))) return mm::Stat(i);
    names.push_back(mm::stat_name(mm::Stat(i)));
  }
  throw UsageError("unknown vmstat counter '" + name + "'" + did_you_mean(name, names) +
                   " (known: " + join_names(names) + ")");
}

const std::vector<std::pair<const char*, mm::gfp_t>>& gfp_table() {
  using namespace mm;
  static const std::vector<std::pair<const char*, gfp_t>> t = {
      {"GFP_KERNEL", GFP_KERNEL}, {"GFP_ATOMIC", GFP_ATOMIC}, {"GFP_NOWAIT", GFP_NOWAIT},
      {"GFP_NOIO", GFP_NOIO}, {"GFP_USER", GFP_USER}, {"GFP_HIGHUSER", GFP_HIGHUSER},
      {"GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE}, {"__GFP_DMA", __GFP_DMA},
      {"__GFP_HIGHMEM", __GFP_HIGHMEM}, {"__GFP_DMA32", __GFP_DMA32},
      {"__GFP_MOVABLE", __GFP_MOVABLE}, {"__GFP_RECLAIMABLE", __GFP_RECLAIMABLE},
      {"__GFP_HIGH", __GFP_HIGH}, {"__GFP_IO", __GFP_IO}, {"__GFP_FS", __GFP_FS},
      {"__GFP_NOWARN", __GFP_NOWARN}, {"__GFP_NORETRY", __GFP_NORETRY},
      {"__GFP_MEMALLOC", __GFP_MEMALLOC}, {"__GFP_NOMEMALLOC", __GFP_NOMEMALLOC},
      {"__GFP_ZERO", __GFP_ZERO},
      {"__GFP_ATOMIC", __GFP_ATOMIC}, {"__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM},
      {"__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM}, {"__GFP_RECLAIM", __GFP_RECLAIM},
  };
  return t;
}

// "GFP_KERNEL|__GFP_MOVABLE", or an int.
mm::gfp_t parse_gfp(py::handle g) {
  if (py::isinstance<py::int_>(g) && !py::isinstance<py::bool_>(g)) {
    const auto v = g.cast<py::int_>();
    if (v < py::int_(0) || v > py::int_(mm::__GFP_BITS_MASK))
      throw UsageError("gfp " + py::str(v).cast<std::string>() + " has bits outside __GFP_BITS_MASK");
    return v.cast<mm::gfp_t>();
  }
  if (!py::isinstance<py::str>(g)) throw UsageError("gfp must be an int or a string like 'GFP_KERNEL|__GFP_MOVABLE'");
  const std::string s = str_arg(g, "alloc_pages", "gfp");
  mm::gfp_t out = 0;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t bar = s.find('|', pos);
    if (bar == std::string::npos) bar = s.size();
    std::string name = s.substr(pos, bar - pos);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    bool found = false;
    for (const auto& [n, v] : gfp_table())
      if (name == n) {
        out |= v;
        found = true;
      }
    if (!found) throw UsageError("unknown gfp flag '" + name + "'");
    pos = bar + 1;
  }
  return out;
}

// An entry point's arguments: integers, and for one named `gfp` also a string of flags
// ("GFP_KERNEL|__GFP_MOVABLE").
std::vector<int64_t> int_args(py::args args, const kernel::EntryPoint& e) {
  const char* what = e.name;
  std::vector<int64_t> v;
  for (auto a : args) {
    if (py::isinstance<py::str>(a) && kernel::arg_name(e, v.size()) == "gfp") {
      v.push_back(int64_t(parse_gfp(a)));
      continue;
    }
    if (!py::isinstance<py::int_>(a) || py::isinstance<py::bool_>(a))
      throw UsageError(std::string(what) + ": arguments must be integers, got " +
                       py::repr(a).cast<std::string>());
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(a.ptr(), &overflow);
    if (overflow)  // a.cast<int64_t>() would throw pybind11's "Unable to cast" RuntimeError
      throw UsageError(std::string(what) + ": arguments must be integers between -2^63 and "
                       "2^63-1, got one of " + std::to_string(a.attr("bit_length")().cast<long>()) +
                       " bits");
    v.push_back(int64_t(x));
  }
  return v;
}

const char* owner_name(mm::Owner o) {
  switch (o) {
    case mm::Owner::None: return "none";
    case mm::Owner::Reserved: return "reserved";
    case mm::Owner::Process: return "process";
    case mm::Owner::Zsmalloc: return "zsmalloc";
    case mm::Owner::Balloon: return "balloon";
    case mm::Owner::TestDriver: return "test_driver";
    case mm::Owner::Z3fold: return "z3fold";
    case mm::Owner::Migration: return "migration";
    case mm::Owner::Kernel: return "kernel";
  }
  return "?";
}

// The most pages a machine may have: 32 GiB simulated, about 1 GiB of model state.
constexpr long kMaxPages = long(1) << 23;

Pfn check_pfn(const Kernel& k, long pfn) {
  if (pfn < 0 || uint64_t(pfn) >= k.pages.size())  // compared as 64 bits: 2^32 + k is not k
    throw UsageError("pfn " + std::to_string(pfn) + " out of range (the machine has " +
                     std::to_string(k.pages.size()) + " pages)");
  return Pfn(pfn);
}

const mm::Zone& check_zone(const Kernel& k, long zone) {
  if (zone < 0 || size_t(zone) >= k.zones.size()) throw UsageError("no zone " + std::to_string(zone));
  return k.zones[size_t(zone)];
}

py::dict page_dict(const Kernel& k, Pfn pfn) {
  const mm::Page& p = k.page(pfn);
  py::dict d;
  d["pfn"] = pfn;
  d["refcount"] = p.refcount;
  d["mapcount"] = p.mapcount + 1;  // page_mapcount()
  d["buddy"] = p.mapcount == mm::PAGE_BUDDY_MAPCOUNT_VALUE;
  py::list flags;
  for (int b = 0; b < mm::NR_PAGEFLAGS; ++b)
    if ((p.flags >> b) & 1) flags.append(mm::page_flag_name(k.cfg, b));
  d["flags"] = flags;
  const uint32_t m = mm::mapping_id(p.mapping);
  d["mapping"] = m && m < k.mappings.size() ? py::object(py::str(k.mappings[m].name)) : py::none();
  d["movable"] = mm::page_is_movable(k.cfg, p);  // __PageMovable, by the preset's definition
  d["anon"] = (p.mapping & mm::PAGE_MAPPING_ANON) != 0;
  d["private"] = p.private_;
  d["index"] = p.index;
  d["list"] = p.list < k.lists.size() ? py::object(py::str(k.lists[p.list].name()))
              : p.list == mm::kPoisonList ? py::object(py::str("LIST_POISON")) : py::none();
  d["owner"] = owner_name(p.owner);
  d["content"] = p.content;
  d["migratetype"] = mm::migratetype_name(mm::get_pageblock_migratetype(k, pfn));
  return d;
}

class KernelMachine : public Machine {
 public:
  KernelMachine(const kernel::KernelConfig& kc, uint32_t cpus, std::optional<Nanos> window,
                uint64_t max_steps, bool trace, bool panic_on_oops, bool debug_atomic_sleep,
                bool preempt, bool softirq, const std::string& check, bool kcompactd,
                bool kswapd)
      : Machine(cpus, window, max_steps, trace, panic_on_oops, debug_atomic_sleep, preempt,
                softirq),
        kernel_(std::make_shared<Kernel>(kc)),
        backup_(*kernel_),
        kcompactd_(kcompactd || kswapd),
        kswapd_(kswapd) {
    cfg_.bug_lines = &kernel::bug_lines(kernel::find_preset(kernel_->preset_name()));
    kernel_->nr_cpu_ids = cpus;
    backup_ = *kernel_;
    if (check != "end" && check != "step" && check != "off")
      throw UsageError("check must be 'end', 'step' or 'off'");
    kernel_->check_daemons(kcompactd, kswapd);
    check_ = check;
  }

  std::shared_ptr<Kernel> template_kernel() const { return kernel_; }

  CpuId spawn_any(long cpu, py::object task, py::args args, std::optional<std::string> name,
                  bool softirq) {
    if (!py::isinstance<py::str>(task)) return spawn(cpu, task, args, name, softirq);
    const CpuId c = check_spawn(cpu, softirq);
    const auto& e = kernel::find_entry(str_arg(task, "spawn", "task"));
    tasks_.push_back({c, name ? *name : std::string(e.name), py::none(), py::tuple(), &e,
                      int_args(args, e), softirq});
    return lane_of_last();
  }

  // A set-up step on the initial state, all or nothing: one that raises (SetupFault,
  // UsageError) leaves the state as it was, so later runs do not start from half of it.
  template <class F>
  auto setup(F&& f) {
    check_idle("set-up");
    // The whole kernel, mem_map too: a DirtyArray copies only the written elements when
    // its source was not written since the last copy, and a set-up step's source always
    // was (each step copies O(pages)).
    backup_ = *kernel_;
    try {
      return f(*kernel_);
    } catch (...) {
      *kernel_ = backup_;
      throw;
    }
  }

  int64_t call(const std::string& name, py::args args) {
    const auto& e = kernel::find_entry(name);
    const auto a = int_args(args, e);
    return setup([&](Kernel& k) { return kernel::call_entry(k, e, a); });
  }


  // An end-of-run property: fn(state) returns None, or a message (outcome check:<name>).
  void add_check(py::object fn) {
    check_idle("check");
    if (!PyCallable_Check(fn.ptr())) throw UsageError("a check must be a function of the state");
    const std::string name = py::hasattr(fn, "__name__") ? fn.attr("__name__").cast<std::string>()
                                                         : "check" + std::to_string(checks_.size());
    checks_.emplace_back(intern(name), std::move(fn));
  }

 protected:
  bool has_python() const override { return !checks_.empty() || Machine::has_python(); }
  World& world() override { return *kernel_; }
  std::shared_ptr<World> fresh_world() override { return std::make_shared<Kernel>(*kernel_); }
  void reset_world(World& w) override { static_cast<Kernel&>(w) = *kernel_; }

  py::object execute_op(World& w, py::handle op) override {
    if (py::isinstance<StatRead>(op))  // the counter as it is at this step
      return py::int_(static_cast<Kernel&>(w).stats[size_t(op.cast<const StatRead&>().stat)]);
    if (!py::isinstance<KernelCall>(op)) return Machine::execute_op(w, op);
    const auto& c = op.cast<const KernelCall&>();
    return py::int_(kernel::call_entry(static_cast<Kernel&>(w), *c.entry, c.args));
  }

  std::function<void()> native_body(const TaskSpec& t, World& w) override {
    // The spec outlives the run and never moves: the body refers to its arguments rather
    // than copying them, and is small enough for std::function to hold without allocating.
    return [&t, k = static_cast<Kernel*>(&w)] {
      kernel::call_entry(*k, *static_cast<const kernel::EntryPoint*>(t.entry), t.entry_args);
    };
  }

  void prepare(Sim& sim, World& w) override {
    auto* k = static_cast<Kernel*>(&w);
    mm::sample_counters(sim, *k);
    if (kcompactd_) sim.spawn(0, "kcompactd0", [k] { mm::kcompactd(*k); }, /*daemon=*/true);
    k->kswapd.running = kswapd_;
    if (kswapd_) sim.spawn(0, "kswapd0", [k] { mm::kswapd(*k); }, /*daemon=*/true);
    if (check_ == "off" && checks_.empty()) return;
    sim.set_teardown([this, k](Sim& s) {
      if (check_ != "off")
        for (auto& o : k->teardown_outcomes()) s.add_outcome(std::move(o));
      run_checks(s, *k);
    });
    if (check_ == "off") return;
    if (check_ == "step")
      sim.set_step_check([k, seen = false](Sim& s) mutable {
        if (seen) return;  // the first violation is the interesting one
        for (auto& o : k->invariant_outcomes()) {
          o.step = s.steps();
          s.add_outcome(std::move(o));
          seen = true;
        }
      });
  }

  void finish(PyRun& out) override {
    out.kernel = std::static_pointer_cast<Kernel>(out.world);
    out.meta["preset"] = kernel_->preset_name();
  }

 private:
  // The end-of-run checks, each on its own copy of the final state (a check may keep it).
  void run_checks(Sim& s, const Kernel& k) {
    for (const auto& [name, fn] : checks_) {
      s.note_check(name);
      py::object r;
      try {
        r = fn(KernelView{std::make_shared<Kernel>(k)});
      } catch (py::error_already_set& e) {
        if (!s.config().errors_as_outcomes) throw;
        error_outcome(e);
        continue;
      }
      if (r.is_none()) continue;
      Outcome o;
      o.kind = OutcomeKind::Check;
      o.function = interned(name);
      o.message = py::str(r).cast<std::string>();
      s.add_outcome(std::move(o));
    }
  }

  std::vector<std::pair<uint32_t, py::object>> checks_;
  std::shared_ptr<Kernel> kernel_;
  Kernel backup_;  // the initial state before the set-up step in progress
  std::string check_ = "end";
  bool kcompactd_ = false;
  bool kswapd_ = false;
};

}  // namespace

void register_kernel(py::module_& m) {
  register_obj_class(objclass::kPage, "page", [](uint64_t i, const World*) {
    return "page pfn " + std::to_string(i);
  });
  // A page's flag operations by the flag's name: PG_isolated, not the PG_reclaim it
  // aliases (the model has no reclaim), and v3's PG_movable by its own.
  register_obj_bits(objclass::kPage, [](int bit, const World*) -> const char* {
    if (bit == mm::PG_isolated) return "isolated";
    if (bit == mm::PG_movable_v3) return "movable";
    return mm::page_flag_name(bit);
  });
  register_obj_class(objclass::kPageList, "list", [](uint64_t i, const World* w) {
    auto* mm = dynamic_cast<const mm::Mm*>(w);
    return mm && i < mm->lists.size() ? "list " + mm->lists[i].name() : "list " + std::to_string(i);
  });
  register_obj_class(objclass::kZone, "zone->lock");
  register_obj_class(objclass::kLruLock, "zone_lru_lock");
  register_obj_class(objclass::kKcompactd, "kcompactd_wait");
  register_obj_class(objclass::kKswapd, "kswapd", [](uint64_t i, const World*) -> std::string {
    return i ? "node 0 (its free pages and kswapd_order)" : "kswapd_wait";
  });

  m.def("page_obj", [](uint32_t pfn) { return mm::page_obj(pfn); }, py::arg("pfn"),
        "The object id of a page, as scheduling points and breakpoints name it.");
  m.def("obj_label", [](ObjId id) { return obj_label(id); }, py::arg("obj"),
        "What an object id names, as traces print it ('page pfn 7', 'handle 3 (pool 0)').");
  py::class_<KernelCall>(m, "KernelCall", "A call of a kernel entry point, yielded by a task.")
      .def("__repr__", [](const KernelCall& c) { return std::string("<pagesim call ") + c.entry->name + ">"; });
  {
    // Per-step ops: a call whose arguments do not match is a one-line error (def_bad_args).
    py::options signatures_in_docstrings;
    signatures_in_docstrings.disable_function_signatures();
    m.def("call", [](py::object name, const py::args& args) {
      const auto& e = kernel::find_entry(str_arg(name, "call", "entry"));
      return KernelCall{&e, int_args(args, e)};
    }, py::arg("entry"), "call(entry: str, *args: int) -> KernelCall\n\n"
       "An operation that runs a kernel entry point: `yield ps.call('compact_page', pfn)`.");
    def_bad_args(m, "call", {"call", {"entry"}, 1, true});
    py::class_<StatRead>(m, "StatRead", "A read of a vmstat counter, yielded by a task.");
    m.def("vmstat", [](py::object name) { return StatRead{stat_by_name(str_arg(name, "vmstat", "name"))}; },
          py::arg("name"), "vmstat(name: str) -> StatRead\n\n"
          "An operation that reads a vmstat counter (nr_isolated_anon, nr_free_pages, ...) as it "
          "is at the task's step: `n = yield ps.vmstat('nr_isolated_anon')`.");
    def_bad_args(m, "vmstat", {"vmstat", {"name"}, 1});
  }
  m.def("entry_points", [] {
    py::list l;
    for (const auto& e : kernel::entry_points()) {
      py::dict d;
      d["name"] = e.name;
      d["args"] = e.args;
      d["doc"] = e.doc;
      l.append(d);
    }
    return l;
  }, "The kernel entry points a task can run.");
  m.def("presets", [] {
    py::list l;
    for (const auto& p : kernel::presets()) {
      py::dict d;
      d["name"] = p.name;
      d["title"] = p.title;
      py::list f;
      for (size_t i = 0; i < kFixCount; ++i)
        if (p.fixes.test(i)) f.append(fix_info(Fix(i)).name);
      d["fixes"] = f;
      d["debug_vm"] = p.debug_vm;
      d["base"] = p.base;
      d["follows"] = p.follows;
      d["user"] = p.user;
      l.append(d);
    }
    return l;
  }, "The kernel presets: each one's fixes, the preset it is built from ('base', '' for a "
     "root), the kernel tree it follows, and whether a user composed it.");
  m.def("preset", [](py::object name, py::object base, std::map<std::string, bool> fixes) {
    return kernel::define_preset(str_arg(name, "preset", "name"), str_arg(base, "preset", "base"),
                                 fixes).name;
  }, py::arg("name"), py::arg("base"), py::arg("fixes") = std::map<std::string, bool>{},
     "preset(name, base, fixes={}) -> str\n\n"
     "Compose a kernel preset: `base` with named fixes flipped, usable as kernel=name "
     "wherever a preset name is. Returns the name.");
  m.def("model_functions", [](std::optional<std::string> preset, std::map<std::string, bool> fixes) {
    if (!preset) {
      std::vector<std::string> all;
      for (const auto& f : model_functions()) all.push_back(f.name);
      return all;
    }
    return kernel::model_function_names(kernel::resolve_fixes(kernel::find_preset(*preset), fixes));
  }, py::arg("kernel") = py::none(), py::arg("fixes") = std::map<std::string, bool>{},
     "The model functions breakpoints and outcome keys can name: every one, or those of a "
     "preset with fixes flipped.");
  m.def("outcome_functions", [] { return outcome_functions(); },
        "The functions an outcome key can name (oops:<function>): the model functions and the "
        "places that report a BUG or WARN.");
  m.def("model_function_file", [](const std::string& name) -> py::object {
    const ModelFunction* f = find_model_function(name);
    return f ? py::object(py::str(f->file)) : py::object(py::none());
  }, py::arg("name"), "The model file that defines a model function, or None.");
  m.def("missing_fix", [](const std::string& name, const std::string& preset,
                          std::map<std::string, bool> fixes) -> py::object {
    auto f = kernel::missing_fix_for(kernel::resolve_fixes(kernel::find_preset(preset), fixes), name);
    if (!f) return py::none();
    return py::make_tuple(fix_info(*f).name, fix_info(*f).title);
  }, py::arg("function"), py::arg("kernel"), py::arg("fixes") = std::map<std::string, bool>{},
     "(name, title) of the fix a model function needs on this preset, or None.");
  m.def("did_you_mean", [](const std::string& name, const std::vector<std::string>& known) {
    return did_you_mean(name, known);
  }, py::arg("name"), py::arg("known"), "\" (did you mean 'x'?)\" for the names close to `name`, or ''.");
  m.def("fixes", [] {
    py::list l;
    for (size_t i = 0; i < kFixCount; ++i) {
      py::dict d;
      d["name"] = fix_info(Fix(i)).name;
      d["title"] = fix_info(Fix(i)).title;
      py::list needs;
      for (Fix n : kernel::fix_needs(Fix(i))) needs.append(fix_info(n).name);
      d["needs"] = needs;
      const auto later = kernel::fix_removed_by(Fix(i));
      d["removed_by"] = later ? py::object(py::str(fix_info(*later).name)) : py::object(py::none());
      l.append(d);
    }
    return l;
  }, "Every named fix: its name, title, the fixes it needs and the fix that removed its code (or None).");
  py::dict gfp;
  for (const auto& [n, v] : gfp_table()) gfp[n] = v;
  m.attr("GFP") = gfp;

  py::class_<KernelView>(m, "KernelState", "Page state of a kernel (read-only).")
      .def_property_readonly("nr_pages", [](const KernelView& v) { return v.k->pages.size(); })
      .def_property_readonly("preset", [](const KernelView& v) { return v.k->preset_name(); })
      .def_property_readonly("debug_vm", [](const KernelView& v) { return v.k->cfg.debug_vm; })
      .def_property_readonly("fixes", [](const KernelView& v) {
        py::dict d;
        for (size_t i = 0; i < kFixCount; ++i) d[fix_info(Fix(i)).name] = v.k->cfg.fixes.test(i);
        return d;
      })
      .def("page", [](const KernelView& v, long pfn) { return page_dict(*v.k, check_pfn(*v.k, pfn)); },
           py::arg("pfn"), "struct page of pfn as a dict (refcount, mapcount, flags, mapping, owner, ...).")
      .def("dump_page", [](const KernelView& v, long pfn) { return mm::dump_page(*v.k, check_pfn(*v.k, pfn)); },
           py::arg("pfn"))
      .def("page_map", [](const KernelView& v) {
        // One byte per pfn: the owner (mm::Owner) in bits 0-3, then free (in the buddy
        // allocator: no owner, no reference),
        // isolated (a driver's page with PG_isolated, or a process page off the LRU)
        // and locked (PG_locked).
        std::string out(v.k->pages.size(), '\0');
        for (Pfn pfn = 0; pfn < v.k->pages.size(); ++pfn) {
          const mm::Page& p = v.k->page(pfn);
          const bool driver = p.owner == mm::Owner::Zsmalloc || p.owner == mm::Owner::Balloon ||
                              p.owner == mm::Owner::TestDriver || p.owner == mm::Owner::Z3fold;
          const bool isolated = (driver && (p.flags >> mm::PG_isolated & 1)) ||
                                (p.owner == mm::Owner::Process && p.refcount > 0 &&
                                 !(p.flags >> mm::PG_lru & 1));
          const bool free = p.owner == mm::Owner::None && p.refcount == 0;
          out[pfn] = char(uint8_t(p.owner) | uint8_t(free) << 4 |
                          uint8_t(isolated) << 5 | uint8_t(p.flags >> mm::PG_locked & 1) << 6);
        }
        return py::bytes(out);
      }, "The state of every pfn, one byte each: owner (bits 0-3, in the order of "
         "page(pfn)['owner']: none, reserved, process, zsmalloc, balloon, test_driver, "
         "migration, kernel), free (bit 4: in the buddy allocator), isolated (bit 5), locked "
         "(bit 6).")
      .def("zones", [](const KernelView& v) {
        py::list l;
        for (const auto& z : v.k->zones) {
          py::dict d;
          d["name"] = z.name;
          d["start_pfn"] = z.zone_start_pfn;
          d["pages"] = z.spanned_pages;
          d["free_pages"] = z.free_pages;
          d["watermark"] = py::make_tuple(z.watermark[0], z.watermark[1], z.watermark[2]);
          d["watermark_boost"] = z.watermark_boost;  // 1c30844d2dfe (5.0), with kswapd=True
          // Compaction's deferral (defer_compaction / compaction_deferred).
          d["compact_considered"] = z.compact_considered;
          d["compact_defer_shift"] = z.compact_defer_shift;
          d["compact_order_failed"] = z.compact_order_failed;
          l.append(d);
        }
        return l;
      })
      .def("free_blocks", [](const KernelView& v, long zone) {
        return mm::free_blocks_per_order(*v.k, check_zone(*v.k, zone));
      }, py::arg("zone") = 0, "Free blocks per order (/proc/buddyinfo).")
      .def("unusable_free_index", [](const KernelView& v, unsigned order, long zone) {
        return mm::unusable_free_index(*v.k, check_zone(*v.k, zone), order);
      }, py::arg("order"), py::arg("zone") = 0, "0..1000, as debugfs extfrag/unusable_index shows it.")
      .def("fragmentation_index", [](const KernelView& v, unsigned order, long zone) {
        return mm::fragmentation_index(*v.k, check_zone(*v.k, zone), order);
      }, py::arg("order"), py::arg("zone") = 0, "-1000 if an allocation would succeed, else 0..1000.")
      .def_property_readonly("stats", [](const KernelView& v) {
        py::dict d;
        for (size_t i = 0; i < size_t(mm::Stat::Count_); ++i) d[mm::stat_name(mm::Stat(i))] = v.k->stats[i];
        return d;
      })
      .def("corrupt_pages", [](const KernelView& v, long pid) {
        if (pid < 0 || size_t(pid) >= v.k->processes.size()) throw UsageError("no process " + std::to_string(pid));
        return mm::process_verify(*v.k, uint32_t(pid));
      }, py::arg("pid"), "Pages of the process whose content differs from what it wrote.")
      .def("process_pages", [](const KernelView& v, long pid) {
        if (pid < 0 || size_t(pid) >= v.k->processes.size()) throw UsageError("no process " + std::to_string(pid));
        py::list l;
        for (Pfn p : v.k->processes[size_t(pid)].pte) l.append(p < v.k->pages.size() ? py::object(py::int_(p)) : py::none());
        return l;
      }, py::arg("pid"), "pfn of each virtual page of the process (None: not present).")
      .def("check_invariants", [](const KernelView& v) {
        std::vector<std::string> out;
        for (const auto& o : v.k->invariant_outcomes()) out.push_back(o.message);
        return out;
      }, "Violations of page-state invariants, as messages (empty: consistent).");

  py::class_<KernelMachine, Machine>(m, "Kernel", R"doc(
A machine running the kernel model, configured from a preset.

Set-up calls (alloc_pages, process, fault_in, call, ...) act on the initial state at once;
spawn() puts tasks on CPUs (a kernel entry point by name, or a generator function that
yields operations such as ps.call(...)); run() starts every task from a copy of the
initial state, so a Kernel can be run many times.)doc")
      .def(py::init([](const std::string& preset, py::dict fixes, long pages,
                       std::optional<std::vector<std::tuple<std::string, uint32_t, std::string>>> zones,
                       uint32_t cpus, std::optional<Nanos> window, uint64_t max_steps, bool trace,
                       bool panic_on_oops, std::optional<bool> debug_vm, bool debug_atomic_sleep,
                       bool preempt, bool softirq, const std::string& check, bool kcompactd,
                       bool kswapd) {
             kernel::KernelConfig kc;
             kc.preset = preset;
             for (auto [name, on] : fixes) {  // {"<fix>": True | False}, nothing else
               if (!py::isinstance<py::str>(name) || !py::isinstance<py::bool_>(on))
                 throw UsageError("fixes maps a fix name to True or False, not " +
                                  py::repr(name).cast<std::string>() + ": " +
                                  py::repr(on).cast<std::string>());
               kc.fixes[str_arg(name, "Kernel", "a fix name")] = on.cast<bool>();
             }
             kc.debug_vm = debug_vm ? int(*debug_vm) : -1;
             if (zones) {
               kc.zones.clear();
               uint64_t total = 0;
               for (auto& [name, n, mt] : *zones) {
                 total += n;
                 if (total > uint64_t(kMaxPages))  // as pages=: no 16 GiB of page structs
                   throw UsageError("zones must have at most " + std::to_string(kMaxPages) +
                                    " pages in all (32 GiB of simulated memory)");
                 mm::MigrateType t = mt == "CMA" ? mm::MIGRATE_CMA : mt == "MOVABLE" ? mm::MIGRATE_MOVABLE
                                   : mt == "UNMOVABLE" ? mm::MIGRATE_UNMOVABLE
                                   : throw UsageError("zone migratetype must be MOVABLE, UNMOVABLE or CMA");
                 kc.zones.push_back({name, n, t});
               }
             } else {
               if (pages <= 0 || pages % mm::pageblock_nr_pages)
                 throw UsageError("pages must be a positive multiple of " +
                                  std::to_string(mm::pageblock_nr_pages) + " (one pageblock)");
               if (pages > kMaxPages)  // also: no 2^32 + k taken as k
                 throw UsageError("pages must be at most " + std::to_string(kMaxPages) +
                                  " (32 GiB of simulated memory), not " + std::to_string(pages));
               kc.zones = {{"Normal", uint32_t(pages), mm::MIGRATE_MOVABLE}};
             }
             return std::make_unique<KernelMachine>(kc, cpus, window, max_steps, trace, panic_on_oops,
                                                    debug_atomic_sleep, preempt, softirq, check,
                                                    kcompactd, kswapd);
           }),
           py::arg("preset") = "v4.8", py::arg("fixes") = py::dict(),
           py::arg("pages") = 4096, py::arg("zones") = py::none(), py::arg("cpus") = 2,
           py::arg("window") = py::none(), py::arg("max_steps") = 1'000'000, py::arg("trace") = true,
           py::arg("panic_on_oops") = false, py::arg("debug_vm") = py::none(),
           py::arg("debug_atomic_sleep") = false, py::arg("preempt") = false,
           py::arg("softirq") = false, py::arg("check") = "end", py::arg("kcompactd") = false,
           py::arg("kswapd") = false)
      .def("add_check", &KernelMachine::add_check, py::arg("fn"),
           "An end-of-run property: fn(state) returns None or a message, which becomes outcome "
           "check:<fn name>. Runs after every run that completed (no task killed, no deadlock).")
      .def_property_readonly("state", [](const KernelMachine& k) { return KernelView{k.template_kernel()}; },
                             "The initial state (what set-up calls built).")
      .def("spawn", &KernelMachine::spawn_any, py::arg("cpu"), py::arg("task"), py::arg("name") = py::none(),
           py::arg("softirq") = false,
           "spawn(cpu, task, *args, name=None, softirq=False): task is an entry point name "
           "('compact_page') with integer args, or a generator function; softirq: a softirq "
           "context (Kernel(softirq=True)).")
      .def("probe", [](KernelMachine& k, const std::string& name, py::args args) {
        auto copy = std::make_shared<Kernel>(*k.template_kernel());
        const auto& e = kernel::find_entry(name);
        const int64_t r = kernel::call_entry(*copy, e, int_args(args, e));
        return py::make_tuple(r, KernelView{copy});
      }, py::arg("entry"),
           "Run an entry point on a copy of the initial state: (result, state of the copy). "
           "What would zs_malloc allocate next?")
      .def("call", &KernelMachine::call, py::arg("entry"),
           "Run an entry point now, on the initial state (set-up); returns its result.")
      .def("alloc_pages", [](KernelMachine& k, unsigned order, py::object gfp) {
        const mm::gfp_t g = parse_gfp(gfp);
        const Pfn p = k.setup([&](Kernel& kk) { return mm::alloc_pages(kk, g, order, mm::Owner::Kernel); });
        return p == mm::kNoPfn ? py::object(py::none()) : py::object(py::int_(p));
      }, py::arg("order") = 0, py::arg("gfp") = "GFP_KERNEL", "Set-up allocation: the pfn, or None.")
      .def("free_pages", [](KernelMachine& k, long pfn, unsigned order) {
        k.setup([&](Kernel& kk) { mm::__free_pages(kk, check_pfn(kk, pfn), order); });
      }, py::arg("pfn"), py::arg("order") = 0)
      .def("process", [](KernelMachine& k, const std::string& name) {
        return k.setup([&](Kernel& kk) { return mm::process_create(kk, name); });
      }, py::arg("name"), "Create a process that owns anonymous LRU pages; returns its pid.")
      .def("fault_in", [](KernelMachine& k, long pid, uint32_t n) {
        return k.call("fault_in", py::make_tuple(pid, n));
      }, py::arg("pid"), py::arg("npages"));
}

}  // namespace pagesim::py_glue
