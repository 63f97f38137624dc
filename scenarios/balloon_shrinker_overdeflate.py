"""virtio balloon: the 4.19 shrinker deflates the whole balloon when compaction holds pages.

Fixed by "virtio_balloon: fix shrinker scan number of pages" (Michael S. Tsirkin, 5.4-rc8,
v2 <20191120071733.4035-1-mst@redhat.com>, linux-mm archive id 17710464262; its upstream
id is not in the stored archive), after Khazhismel Kumykov's report "virtio_balloon: fix
shrinker pages_to_free calculation" <20191115225557.61847-1-khazhy@google.com> (archive id
17260642319). Fixes: 71994620bb25 ("virtio_balloon: replace oom notifier with shrinker").

virtio_balloon_shrinker_scan (4.19.0) calls leak_balloon in a loop:

    while (vb->num_pages && pages_to_free) {
            pages_to_free -= pages_freed;
            pages_freed += leak_balloon(vb, pages_to_free);
    }

pages_freed is the running total, yet every pass subtracts it from what is left. The
commit's message: "if we ever tried to iteratively leak pages ... we'd run into issues ...
which can result in either leaking less memory than we were supposed to free, or more if
pages_to_free underruns. On a system with 4K pages we are lucky that we are never asked to
leak more than 128 pages while we can leak up to 256 at a time". The reply to the report
(archive id 17260642319) agreed: "it looks like this never triggers in practice".

It does, with balloon compaction: a page that compaction has isolated is off the balloon's
list, so leak_balloon returns short although the balloon still counts the page. Here the
balloon holds 4 pages, compaction has isolated 2, and reclaim asks the shrinker for 3:
the first pass deflates the 2 on the list, the second asks for 3 - 2 = 1 and gets none,
the third asks for 1 - 2, which wraps, and the loop deflates until the balloon is empty
(it spins while the last pages are isolated, and takes them as migration puts them back).
The shrinker returns 4 for a request of 3, and the guest has given back all its ballooned
memory: the host's target is not met, and the next reclaim finds no balloon to shrink.

Buggy: v4.19. Fixed: v5.4 (the loop adds up what it freed against the request). v5.10 and
later deflate on OOM through the OOM notifier again (da10329cb057): no balloon shrinker.
"""

import pagesim as ps
import pytest

BUGGY = {"kernel": "v4.19"}
NR_TO_SCAN = 3


def shrinker():
    """Reclaim's do_shrink_slab calls the balloon's scan_objects with nr_to_scan = 3."""
    freed = yield ps.call("balloon_shrink", NR_TO_SCAN)
    yield ps.check(freed <= NR_TO_SCAN, "shrinker_frees_at_most_nr_to_scan",
                   f"asked for {NR_TO_SCAN} pages, deflated {freed}")


@ps.scenario(kernel="v5.4", cpus=3, pages=1024)
def balloon_shrinker_overdeflate(k):
    """Compaction isolates two of the balloon's four pages; the shrinker is asked for 3."""
    balloon = k.balloon()
    balloon.fill(4)
    B = balloon.pages()
    c1 = k.cpu(0).run(k.compaction.page, B[0], name="compaction_1")
    c2 = k.cpu(1).run(k.compaction.page, B[1], name="compaction_2")
    s = k.cpu(2).run(shrinker, name="shrinker")
    # Both pages isolated, then the shrinker's first pass (the two pages on the list).
    return ps.script(c1.until("balloon_page_isolate"), c2.until("balloon_page_isolate"),
                     s.until("leak_balloon"))


def passes(run: ps.Run) -> list[str]:
    """The shrinker's leak_balloon calls and the compaction contexts' isolations, in order."""
    return [f"{e['task']}:{e['func']}" for e in run.trace() if e["kind"] == "exit"
            and e["func"] in ("leak_balloon", "balloon_page_isolate")]


def test_without_the_fix_the_shrinker_empties_the_balloon():
    run = balloon_shrinker_overdeflate.run(**BUGGY)
    assert run.outcome_counts == {"check:shrinker_frees_at_most_nr_to_scan": 1}, run.report()
    assert "asked for 3 pages, deflated 4" in run.report()
    # The racy step was reached: both pages were isolated before the first pass returned,
    # and the loop went on past the request (two short passes, then the wrapped count).
    order = passes(run)
    assert order[:3] == ["compaction_1:balloon_page_isolate", "compaction_2:balloon_page_isolate",
                         "shrinker:leak_balloon"], order
    assert order.count("shrinker:leak_balloon") > 3, order
    st = ps.balloon_state(run.kernel)
    assert (st["num_pages"], st["pages"]) == (0, []), st
    assert st["events"] == {"balloon_inflate": 4, "balloon_deflate": 4, "balloon_migrate": 2}, st


def test_with_the_fix_the_shrinker_deflates_what_it_was_asked():
    run = balloon_shrinker_overdeflate.run()
    assert run.ok, run.report()
    assert passes(run)[:3] == ["compaction_1:balloon_page_isolate",
                               "compaction_2:balloon_page_isolate", "shrinker:leak_balloon"]
    st = ps.balloon_state(run.kernel)
    assert st["num_pages"] == 1 and len(st["pages"]) == 1, st
    assert st["events"]["balloon_deflate"] == 3 and st["events"]["balloon_migrate"] == 2, st


def test_without_compaction_the_4_19_loop_deflates_what_it_is_asked():
    # What the reply to the report saw: a first pass that frees the whole request ends the
    # loop (pages_to_free - pages_freed is 0 at the next pass).
    k = ps.Kernel(preset="v4.19")
    k.call("balloon_init")
    k.call("balloon_fill", 4)
    assert k.call("balloon_shrink", NR_TO_SCAN) == NR_TO_SCAN
    assert ps.balloon_state(k.state)["num_pages"] == 1


def test_without_the_fix_exploration_finds_it_without_the_script():
    ex = balloon_shrinker_overdeflate.explore(**BUGGY, strategy="dpor", executions=5_000)
    assert ex.sometimes("check:shrinker_frees_at_most_nr_to_scan"), ex
    assert ex.first_failure.preemptions == 1
    run = ex.replay("check:shrinker_frees_at_most_nr_to_scan")
    assert "deflated 4" in run.report()


def test_with_the_fix_every_schedule_with_two_preemptions_is_clean():
    ex = balloon_shrinker_overdeflate.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert ex.outcomes == {"ok": ex.executions}, ex
    assert ex.found.checks == {"shrinker_frees_at_most_nr_to_scan"}  # the check was evaluated


def test_the_shrinker_deflates_only_from_4_19_to_5_6():
    for preset in ("v4.14", "v5.10"):
        with pytest.raises(ps.UsageError, match="use balloon_oom_notify"):
            balloon_shrinker_overdeflate.run(kernel=preset)
    k = ps.Kernel(preset="v4.19")
    k.call("balloon_init")
    with pytest.raises(ps.UsageError, match="through the balloon's shrinker .* use balloon_shrink"):
        k.call("balloon_oom_notify")
