"""The process-wide compute slot: first come first served, re-entrant, and it tells waiters their place."""

import threading
import time

from dashboard.service.slot import Slot


def test_waiters_go_in_order_and_see_how_many_are_ahead():
    slot = Slot()
    order, seen = [], {}
    release = threading.Event()

    def holder():
        with slot.hold("first"):
            order.append("first")
            release.wait(5)

    def waiter(name):
        def on_wait(w):
            seen.setdefault(name, set()).add((w.ahead, w.holder))
        with slot.hold(name, on_wait=on_wait, poll_s=0.01):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    while not slot.busy:
        time.sleep(0.001)
    for name in ("second", "third"):
        t = threading.Thread(target=waiter, args=(name,))
        t.start()
        threads.append(t)
        while len(slot.queue_labels()) < len(threads):
            time.sleep(0.001)
    assert slot.queue_labels() == ["first", "second", "third"]
    time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["first", "second", "third"]
    assert (1, "first") in seen["second"] and (2, "first") in seen["third"]
    assert not slot.busy and slot.queue_labels() == []


def test_holding_is_reentrant_in_one_thread_and_exclusive_across_threads():
    slot = Slot()
    with slot.hold("outer"):
        with slot.hold("inner"):  # would deadlock if not re-entrant
            assert slot.busy
        assert slot.busy  # the inner exit did not release the outer hold
        got = []
        t = threading.Thread(target=lambda: got.append(_try(slot)))
        t.start()
        t.join(5)
        assert got == ["timed out"]
    assert not slot.busy


def test_an_error_inside_frees_the_slot():
    slot = Slot()
    try:
        with slot.hold("boom"):
            raise RuntimeError("user error")
    except RuntimeError:
        pass
    assert not slot.busy
    with slot.hold("next", timeout_s=1):
        pass


def _try(slot):
    try:
        with slot.hold("other", timeout_s=0.1, poll_s=0.01):
            return "got it"
    except TimeoutError:
        return "timed out"


def test_a_slot_with_two_places_runs_two_at_once_and_the_third_waits_its_turn():
    # The Ray backend's slot: one place per measuring node of the cluster.
    slot = Slot(capacity=2)
    inside, release, seen = [], threading.Event(), set()

    def worker(name):
        def on_wait(w):
            seen.add((name, w.ahead))
        with slot.hold(name, on_wait=on_wait, poll_s=0.01):
            inside.append(name)
            release.wait(5)

    threads = []
    for name in ("first", "second", "third"):
        t = threading.Thread(target=worker, args=(name,))
        t.start()
        threads.append(t)
        while len(slot.queue_labels()) < len(threads):
            time.sleep(0.001)
    while len(inside) < 2:
        time.sleep(0.001)
    time.sleep(0.05)
    assert inside == ["first", "second"] and ("third", 1) in seen
    slot.capacity = 3   # a node joined: the third goes in at once
    while len(inside) < 3:
        time.sleep(0.001)
    release.set()
    for t in threads:
        t.join(5)
    assert not slot.busy and slot.queue_labels() == []


def test_a_place_taken_earlier_goes_before_later_ones_but_never_before_a_holder():
    slot = Slot()
    early = slot.ticket()            # taken first, used last (a job still preparing)
    late_holder = slot.ticket()      # a later ticket that already holds the slot
    order, release = [], threading.Event()

    def hold(name, ticket=None, wait_for=None):
        with slot.hold(name, ticket=ticket, poll_s=0.01):
            order.append(name)
            if wait_for is not None:
                wait_for.wait(5)

    def start(*args):
        n = len(slot.queue_labels())
        t = threading.Thread(target=hold, args=args)
        t.start()
        while len(slot.queue_labels()) == n:
            time.sleep(0.001)
        return t

    threads = [start("holder", late_holder, release), start("arrived first, no ticket")]
    threads.append(start("submitted first", early))
    assert slot.queue_labels() == ["holder", "submitted first", "arrived first, no ticket"]
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["holder", "submitted first", "arrived first, no ticket"]
