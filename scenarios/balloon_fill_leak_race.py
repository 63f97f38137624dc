"""virtio balloon: a fill rewrites vb->pfns under a leak's release, and deflated pages leak.

Report: f68b992bbb47 ("virtio_balloon: fix race by fill and leak", 4.5, Minchan Kim; the
patch is linux-mm archive id 37567939266): "With repeated inflating and deflating cycle,
guest memory(ie, cat /proc/meminfo | grep MemTotal) is decreased and couldn't be
recovered. The reason is balloon_lock doesn't cover release_pages_balloon so struct
virtio_balloon fields could be overwritten by race of fill_balloon(e,g, vb->*pfns could be
critical)."

4.4's leak_balloon dequeues its pages into vb->pfns, tells the host, drops balloon_lock,
and only then frees them in release_pages_balloon, which walks vb->pfns[0 .. num_pfns).
A fill_balloon that takes the lock in between starts with vb->num_pfns = 0: the release
finds nothing to free, and the pages it deflated stay allocated for good (the report's
lost memory). A fill that has already put a page in vb->pfns makes the release free that
page instead, while it is still in the balloon (bad_page: its PG_private is set).

Buggy: v4.4. Fixed: v4.7 (release_pages_balloon runs before the unlock).
"""

import pagesim as ps

BUGGY = {"kernel": "v4.4"}


@ps.scenario(kernel="v4.7", cpus=2, pages=1024)
def balloon_fill_leak_race(k):
    """Deflate two pages while the balloon inflates by one."""
    balloon = k.balloon()
    balloon.fill(2)
    d = k.cpu(0).run(balloon.leak, 2, name="deflate")
    f = k.cpu(1).run(balloon.fill, 1, name="inflate")
    # The leak stops as its release is about to read vb->num_pfns; the fill resets it (its
    # first write of vb->pfns, under balloon_lock) and stops before it allocates.
    return ps.script(d.before("release_pages_balloon"), f.before("balloon_page_enqueue"), d, f)


def pfns_accesses(run):
    """(task, function, op) of each step on vb->pfns and balloon_lock, in order."""
    return [(e["task"], e["func"], e["op"]) for e in run.trace()
            if e["kind"] == "step" and e.get("obj") in ("vb->pfns", "virtio_balloon balloon_lock")]


def test_without_the_fix_the_deflated_pages_leak():
    run = balloon_fill_leak_race.run(**BUGGY)
    assert [(o.key, o.message) for o in run.outcomes] == [
        ("leak", "balloon: pfn 0 left the balloon but was never freed"),
        ("leak", "balloon: pfn 1 left the balloon but was never freed")], run.report()
    # The racy step was reached: the fill reset vb->num_pfns between the leak's unlock and
    # its release's only read, which found nothing to free.
    assert pfns_accesses(run)[-6:-2] == [
        ("deflate", "leak_balloon", "unlock"), ("inflate", "fill_balloon", "lock"),
        ("inflate", "fill_balloon", "write"), ("deflate", "release_pages_balloon", "read")]


def test_with_the_fix_the_fill_waits_for_the_release():
    # The script cannot stop the fill inside fill_balloon: it waits on balloon_lock until
    # the leak has freed its pages, and vb->pfns is no point of its own.
    run = balloon_fill_leak_race.run(strict=False)
    assert run.ok, run.report()
    assert pfns_accesses(run) == [
        ("deflate", "leak_balloon", "lock"), ("inflate", "fill_balloon", "lock"),
        ("deflate", "leak_balloon", "unlock"), ("inflate", "fill_balloon", "lock"),
        ("inflate", "fill_balloon", "unlock")]


def test_without_the_fix_exploration_finds_both_symptoms():
    ex = balloon_fill_leak_race.explore(**BUGGY, strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert ex.sometimes("leak"), ex
    # A fill that already put its page in vb->pfns has it freed from the balloon.
    assert ex.sometimes("bug:bad_page"), ex
    bad = ex.replay("bug:bad_page")
    # The balloon page's PG_private (4.4's balloon_page_insert sets it) fails the check.
    assert bad.bug.message == ("Bad page state in process deflate: PAGE_FLAGS_CHECK_AT_FREE "
                               "flag(s) set"), bad.report()


def test_with_the_fix_every_schedule_with_two_preemptions_is_clean():
    ex = balloon_fill_leak_race.explore(strategy="dpor", preemption_bound=2)
    assert ex.exhausted, ex
    assert ex.outcomes == {"ok": ex.executions}, ex
