"""gateway/slow_nodes.py: a node left behind STRIKES times within the
window is slow for SLOW_FOR_SECONDS, then read first again; strikes spread
wider than the window do not add up."""

from __future__ import annotations

from gateway import slow_nodes
from gateway.slow_nodes import SlowNodes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_node_left_behind_often_is_slow_for_a_while() -> None:
    clock = Clock()
    slow = SlowNodes(clock)
    marks = [slow.straggled("n1") for _ in range(slow_nodes.STRIKES)]
    assert marks == [False] * (slow_nodes.STRIKES - 1) + [True]
    assert slow.is_slow("n1") and not slow.is_slow("n2")
    clock.now += slow_nodes.SLOW_FOR_SECONDS - 0.1
    assert slow.is_slow("n1")
    clock.now += 0.2
    assert not slow.is_slow("n1")
    # it starts over: one more strike does not make it slow again
    assert not slow.straggled("n1") and not slow.is_slow("n1")


def test_strikes_spread_wider_than_the_window_do_not_add_up() -> None:
    clock = Clock()
    slow = SlowNodes(clock)
    step = slow_nodes.STRIKE_WINDOW_SECONDS / (slow_nodes.STRIKES - 1) + 0.1
    for _ in range(3 * slow_nodes.STRIKES):
        assert not slow.straggled("n1")
        clock.now += step
    assert not slow.is_slow("n1")


def test_a_write_that_timed_out_marks_its_node_at_once() -> None:
    clock = Clock()
    slow = SlowNodes(clock)
    slow.mark("n1")
    assert slow.is_slow("n1")
    clock.now += slow_nodes.SLOW_FOR_SECONDS + 0.1
    assert not slow.is_slow("n1")
