// BUG and WARN sites: the kernel's text of a check, and a report that names the line of
// the tree the run follows.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/bug_site.h"
#include "engine/sim.h"
#include "engine/world.h"

using namespace pagesim;

namespace {

void checked_function(bool fire) {
  if (fire) BUG(REPORT_FUNC_HERE(), BUG_SITE("VM_BUG_ON_PAGE(!mm::PageIsolated(mm, page, line))"));
}

}  // namespace

TEST(BugSite, ReadsAsTheKernelWritesIt) {
  EXPECT_EQ(kernel_text("!mm::PageIsolated(mm, page)"), "!PageIsolated(page)");
  EXPECT_EQ(kernel_text("!is_first_page(mm, first_page, line)"), "!is_first_page(first_page)");
  EXPECT_EQ(kernel_function("zs_page_migrate_517"), "zs_page_migrate");
  EXPECT_EQ(kernel_function("balloon_page_migrate_47"), "balloon_page_migrate");
  EXPECT_EQ(kernel_function("zs_free"), "zs_free");
  const auto sites = bug_sites();
  auto it = std::find_if(sites.begin(), sites.end(),
                         [](const BugSite& s) { return s.function == "checked_function"; });
  ASSERT_NE(it, sites.end());  // registered when the library loaded, before any run
  EXPECT_EQ(it->text, "VM_BUG_ON_PAGE(!PageIsolated(page))");
  EXPECT_TRUE(it->model_file.ends_with("tests/cpp/test_bug_site.cpp")) << it->model_file;
}

TEST(BugSite, AReportNamesTheTreesLineOrTheFunction) {
  const auto sites = bug_sites();
  const uint32_t id = uint32_t(std::find_if(sites.begin(), sites.end(), [](const BugSite& s) {
    return s.function == "checked_function";
  }) - sites.begin());
  SourceLines lines(sites.size());
  lines[id] = {"mm/zsmalloc.c", 2034, "VM_BUG_ON_PAGE(!PageIsolated(page), page);"};
  const SourceLines* const tables[] = {&lines, nullptr};
  for (const SourceLines* table : tables) {
    World w;
    SimConfig cfg;
    cfg.cpus = 1;
    cfg.bug_lines = table;
    Sim sim(cfg, &w, std::make_unique<RandomStrategy>(1));
    sim.spawn(0, "migrate", [] {
      MODEL_FUNC("zs_page_migrate");
      checked_function(true);
    });
    const RunResult r = sim.run();
    ASSERT_EQ(r.outcomes.size(), 1u);
    const Outcome& o = r.outcomes[0];
    EXPECT_EQ(o.key(), "bug:checked_function");
    EXPECT_EQ(o.message, "VM_BUG_ON_PAGE(!PageIsolated(page))");
    const std::string report = o.report();
    if (table) {
      EXPECT_EQ(report.substr(0, report.find("Call Trace")),
                "------------[ cut here ]------------\n"
                "kernel BUG at mm/zsmalloc.c:2034!\n"
                "invalid opcode: 0000 [#1] SMP\n"
                "CPU: 0 PID: 0 Comm: migrate\n"
                "RIP: checked_function  mm/zsmalloc.c:2034: "
                "VM_BUG_ON_PAGE(!PageIsolated(page), page);\n");
    } else {
      EXPECT_EQ(report.substr(0, report.find('\n')),
                "kernel BUG at checked_function: VM_BUG_ON_PAGE(!PageIsolated(page))");
    }
  }
}
