"""virtio balloon: the OOM notifier deflates more pages than the balloon holds: BUG().

Report: 37cf99e08c6f ("balloon: check the number of available pages in leak balloon",
Konstantin Neumoin, 4.8 and 4.7.y). virtballoon_oom_notify asks leak_balloon for a fixed
oom_pages (256) whatever the balloon holds, and 4.4's leak_balloon dequeues until it has
them: once the balloon list is empty with no page isolated by compaction,
balloon_page_dequeue's "balloon pages lost" check fires, BUG(). The fix caps the request
at vb->num_pages ("We can't release more pages than taken"). Its message is not in the
stored archive; the code and this report are from 4.7.4's tree against 4.4.1's.

Compaction isolating a balloon page at the same time hides the BUG on 4.4: with a page
isolated, the dequeue that finds the list empty returns NULL and the leak stops.

Buggy: v4.4. Fixed: v4.8. 4.7.4 (`v4.7`) has the fix too, but there exploration also finds
bug:__list_add from 4.7's own balloon migration: unmap_and_move tests
__is_movable_balloon_page(newpage) after __unmap_and_move unlocked the new page, and a
dequeue in between (balloon_page_delete clears PageBalloon before its list_del) makes it
putback_lru_page a page still on the balloon list. The model adds to the LRU at once; the
kernel's pagevec defers the add, so there what follows depends on when it drains. 4.8's
b1123ea6d3b3 removed the path (test_on_v4_7_a_dequeue_races_the_new_page_check).
"""

import pagesim as ps

BUGGY = {"kernel": "v4.4"}


@ps.scenario(kernel="v4.8", cpus=2, pages=1024)
def balloon_oom_deflate(k):
    """OOM deflates a balloon of two pages while compaction migrates one of them."""
    balloon = k.balloon()
    balloon.fill(2)
    B = balloon.pages()[0]
    o = k.cpu(0).run(balloon.oom_notify, name="oom")
    k.cpu(1).run(k.compaction.page, B, name="compaction")
    return ps.script(o)  # the notifier first, to its end; compaction finds B gone


def test_without_the_fix_the_empty_balloon_bugs():
    run = balloon_oom_deflate.run(**BUGGY)
    assert run.bug is not None, run.report()
    assert (run.bug.function, run.bug.task) == ("balloon_page_dequeue", "oom")
    assert run.bug.message == "BUG()"
    assert "kernel BUG at mm/balloon_compaction.c:99!" in run.report()  # 4.4.1's line
    # The racy step was reached: the third dequeue found the list empty, nothing isolated.
    assert run.bug.details == [
        "list_empty(&b_dev_info->pages) && !b_dev_info->isolated_pages: balloon pages lost"]


def test_with_the_fix_the_notifier_deflates_what_the_balloon_holds():
    run = balloon_oom_deflate.run()
    assert run.ok, run.report()
    # Both pages deflated, and no dequeue from the empty list.
    assert sum(e["kind"] == "enter" and e["func"] == "balloon_page_dequeue" and e["task"] == "oom"
               for e in run.trace()) == 2


def test_without_the_fix_exploration_finds_it_and_schedules_where_isolation_hides_it():
    ex = balloon_oom_deflate.explore(**BUGGY, strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert ex.sometimes("bug:balloon_page_dequeue"), ex
    assert ex.sometimes("ok"), ex


def test_with_the_fix_every_schedule_with_two_preemptions_is_clean():
    ex = balloon_oom_deflate.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert ex.outcomes == {"ok": ex.executions}, ex


def test_on_v4_7_a_dequeue_races_the_new_page_check():
    ex = balloon_oom_deflate.explore(kernel="v4.7", strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert set(ex.outcomes) == {"ok", "bug:__list_add"}, ex
    run = ex.replay("bug:__list_add")
    assert run.bug.task == "compaction"
    assert run.bug.message.endswith("is already on balloon pages"), run.report()
