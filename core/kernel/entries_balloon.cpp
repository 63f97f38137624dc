// Entry points of the virtio balloon (see kernel/entry.h and drivers/balloon.h).
#include <algorithm>

#include "drivers/balloon.h"
#include "kernel/entry.h"

namespace pagesim::kernel {
namespace {

using Args = std::span<const int64_t>;

uint64_t count_arg(const char* fn, int64_t n) {
  if (n < 0) throw UsageError(std::string(fn) + ": the page count must be >= 0, got " + std::to_string(n));
  return uint64_t(n);
}

void require_balloon(const Kernel& k, const char* fn) {
  if (!k.balloon.present)
    throw UsageError(std::string(fn) + ": the balloon device does not exist (call balloon_init first)");
}

// Runs `step(want)` (fill_balloon or leak_balloon) on batches of at most one pfn array
// until n pages or a batch falls short, as update_balloon_size_func repeats it; returns
// the pages done.
template <class Step>
int64_t in_batches(uint64_t n, Step step) {
  uint64_t done = 0;
  while (done < n) {
    const uint64_t want = std::min<uint64_t>(n - done, drivers::VIRTIO_BALLOON_ARRAY_PFNS_MAX);
    const uint32_t got = step(want);
    done += got;
    if (got < want) break;
  }
  return int64_t(done);
}

}  // namespace

std::vector<EntryPoint> balloon_entries() {
  return {
      {"balloon_init", "",
       "create the virtio balloon device (virtballoon_probe): its page list and the balloon-kvm "
       "mapping with balloon_aops",
       [](Kernel& k, Args) -> int64_t {
         drivers::virtballoon_probe(k);
         return 0;
       }},
      {"balloon_fill", "n",
       "inflate the balloon by n pages: fill_balloon (one array of 256 pfns at a time, as "
       "update_balloon_size_func repeats it) until n or an allocation fails; returns pages inflated",
       [](Kernel& k, Args a) -> int64_t {
         require_balloon(k, "balloon_fill");
         return in_batches(count_arg("balloon_fill", a[0]),
                           [&](uint64_t want) { return drivers::fill_balloon(k, want); });
       }},
      {"balloon_leak", "n",
       "deflate the balloon by n pages: leak_balloon (256 at a time) until n or the balloon has "
       "no page to give back; returns pages deflated",
       [](Kernel& k, Args a) -> int64_t {
         require_balloon(k, "balloon_leak");
         return in_batches(count_arg("balloon_leak", a[0]),
                           [&](uint64_t want) { return drivers::leak_balloon(k, want); });
       }},
      {"balloon_oom_notify", "",
       "the OOM notifier with VIRTIO_BALLOON_F_DEFLATE_ON_OOM (virtballoon_oom_notify): one "
       "leak_balloon of oom_pages (256) pages, whatever the balloon holds; returns pages "
       "deflated. Refused from 71994620bb25 (4.19) to da10329cb057 (5.7), which deflate "
       "through the shrinker (balloon_shrink) instead",
       [](Kernel& k, Args) -> int64_t {
         require_balloon(k, "balloon_oom_notify");
         if (drivers::deflates_through_shrinker(k))
           throw UsageError("balloon_oom_notify: " + k.preset_name() +
                            " deflates on OOM through the balloon's shrinker (71994620bb25, "
                            "until da10329cb057 went back to the OOM notifier): use "
                            "balloon_shrink");
         return drivers::leak_balloon(k, drivers::kOomPages);
       }},
      {"balloon_shrink", "nr_to_scan",
       "reclaim calls the balloon's shrinker (virtio_balloon_shrinker_scan, 71994620bb25, 4.19 "
       "to 5.6) with sc->nr_to_scan: leak_balloon in a loop until nr_to_scan pages or an "
       "empty balloon; returns pages deflated. Refused where the balloon deflates through the "
       "OOM notifier (balloon_oom_notify): before 71994620bb25 and since da10329cb057",
       [](Kernel& k, Args a) -> int64_t {
         require_balloon(k, "balloon_shrink");
         if (!drivers::deflates_through_shrinker(k))
           throw UsageError("balloon_shrink: " + k.preset_name() +
                            " has no balloon shrinker that deflates (71994620bb25 brought it "
                            "in 4.19, da10329cb057 went back to the OOM notifier in 5.7): "
                            "use balloon_oom_notify");
         return int64_t(drivers::virtio_balloon_shrinker_scan(k, count_arg("balloon_shrink", a[0])));
       }},
      {"balloon_dequeue", "",
       "leak_balloon of one page (balloon_page_dequeue, tell the host, free it); returns the pfn "
       "that left the balloon, or -1",
       [](Kernel& k, Args) -> int64_t {
         require_balloon(k, "balloon_dequeue");
         const mm::Pfn p = drivers::leak_balloon_one(k);
         return p == mm::kNoPfn ? -1 : int64_t(p);
       }},
      {"balloon_pages", "", "pages in the balloon (vb->num_pages)",
       [](Kernel& k, Args) -> int64_t {
         require_balloon(k, "balloon_pages");
         sched(Op::Read, Access::Read, make_obj(drivers::kBalloonDevClass, 0), here());
         return k.balloon.vb.num_pages;
       }},
  };
}

}  // namespace pagesim::kernel
