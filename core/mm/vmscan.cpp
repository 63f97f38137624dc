#include "mm/vmscan.h"

#include "mm/current.h"
#include "mm/vmstat.h"

namespace pagesim::mm {
namespace {

constexpr Nanos kHz50 = 20'000'000;  // HZ/50 jiffies: 20 ms

}  // namespace

// The throttled task is woken by wake_throttle_isolated() (too_many_isolated() that found
// the count low) or by its timeout. The model sleeps until NR_ISOLATED_* or the LRU sizes
// change, then to the end of that HZ/50 period (poll_sleep): where another task's
// too_many_isolated() would wake it sooner, it resumes later in simulated time, and
// exploration orders its next look against every other step either way.
void reclaim_throttle(Mm& mm) {
  MODEL_FUNC("reclaim_throttle");
  // Do not throttle IO workers, kthreads other than kswapd or workqueues. They may be
  // required for reclaim to make forward progress. (The model's kswapd stops at 4.19,
  // before reclaim_throttle: it never comes here.)
  if (current_is_kthread()) {
    // b485c6f1f9f5: without cond_resched(), a kthread looping on too_many_isolated()
    // keeps its CPU from every task of that CPU unless CONFIG_PREEMPT preempts it.
    if (mm.cfg.has(Fix::ReclaimThrottleResched))
      poll_resched(vmstat_obj(), "cond_resched (too_many_isolated)");
    else
      poll_spin(vmstat_obj(), "too_many_isolated");
    return;
  }
  poll_sleep(vmstat_obj(), kHz50, "reclaim_throttle (too_many_isolated)");
}

}  // namespace pagesim::mm
