"""virtio balloon: a dequeue walk without pages_lock follows a poisoned list pointer.

Report: balloon_page_dequeue walked b_dev_info->pages with list_for_each_entry_safe and took
pages_lock only around balloon_page_delete. Compaction's balloon_page_isolate list_del's
the page the walk holds as its next cursor (LIST_POISON1 in page->lru.next), so the walk
dereferences dead000000000100. Fixed by holding pages_lock around the whole walk: Minchan
Kim's "virtio_balloon: fix race between migration and ballooning" (4.5, linux-mm archive
id 37199150816), the named fix `balloon-dequeue-under-lock`.

Buggy: v4.4, and v4.8 with the fix off. Fixed: v4.7 and later.
"""

import pagesim as ps

BUGGY = {"balloon-dequeue-under-lock": False}


def balloon_consistent(state):
    """End-of-run property: the balloon's list, its page count and its pages' flags agree
    (balloon_check); a message for each disagreement becomes outcome check:balloon_consistent."""
    problems = ps.balloon_check(state)
    return "; ".join(problems) if problems else None


@ps.scenario(kernel="v4.8", cpus=2, pages=1024, checks=[balloon_consistent])
def balloon_dequeue_poison(k):
    """Compaction isolates balloon page B while deflation walks the balloon list at B."""
    balloon = k.balloon()
    balloon.fill(2)
    B = balloon.pages()[0]
    a = k.cpu(0).run(k.compaction.isolate, B, name="compaction")
    d = k.cpu(1).run(balloon.leak, 1, name="deflate")
    # The walk stops at B; compaction isolates B (list_del poisons B's lru); the walk goes on.
    # balloon_page_isolate's operation on balloon_dev_info comes after its list_del of B.
    return ps.script(d.before("balloon_page_dequeue", B),
                     a.before("balloon_page_isolate", obj=balloon.obj("balloon_dev_info")), d, a)


def test_without_the_fix_the_walk_oopses_on_list_poison():
    run = balloon_dequeue_poison.run(fixes=BUGGY)
    assert run.oops is not None, run.report()
    assert run.oops.function == "balloon_page_dequeue"
    assert run.oops.message == "unable to handle kernel paging request at dead000000000100"
    assert run.oops.task == "deflate"


def test_v4_4_has_the_race():
    run = balloon_dequeue_poison.run(kernel="v4.4")
    assert run.oops is not None, run.report()
    assert run.oops.message == "unable to handle kernel paging request at dead000000000100"


def test_with_the_fix_the_same_script_is_clean():
    run = balloon_dequeue_poison.run()
    assert run.ok, run.report()
    assert run.result.checks == ["balloon_consistent"]  # it ran, and held


def test_with_the_fix_every_schedule_with_two_preemptions_is_clean():
    ex = balloon_dequeue_poison.explore(strategy="dfs", executions=200_000, preemption_bound=2)
    assert ex.exhausted, ex
    assert ex.outcomes == {"ok": ex.executions}, ex
    assert ex.proves_never("check:balloon_consistent")


def test_without_the_fix_exploration_finds_it():
    ex = balloon_dequeue_poison.explore(fixes=BUGGY, strategy="dfs", executions=200_000,
                                        preemption_bound=2)
    assert ex.sometimes("oops:balloon_page_dequeue"), ex
    assert ex.replay("oops:balloon_page_dequeue").oops.function == "balloon_page_dequeue"
