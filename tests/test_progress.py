"""track(): a rich bar on a terminal, periodic plain lines elsewhere."""

from __future__ import annotations

import io

from rnnscope._progress import track


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_every_interval_and_at_the_end():
    stream, clock = io.StringIO(), FakeClock()  # StringIO is not a terminal
    seen = []
    for i in track(range(25), total=25, label="analyze", stream=stream, interval=10, clock=clock):
        seen.append(i)
        clock.now += 1.5  # each item takes 1.5 s
    assert seen == list(range(25))
    lines = stream.getvalue().splitlines()
    # a line once ≥ 10 s have passed since the last one (after items 7, 14, 21), then the end
    assert lines == [
        "analyze: 7/25 networks, 10 s",
        "analyze: 14/25 networks, 21 s",
        "analyze: 21/25 networks, 32 s",
        "analyze: 25/25 networks, 38 s",
    ]


def test_plain_line_names_the_unit_and_where_an_interrupted_loop_stopped():
    stream, clock = io.StringIO(), FakeClock()
    for i in track(range(10), total=10, label="compare svcca", unit="blocks", stream=stream,
                   clock=clock):  # fmt: skip
        clock.now += 1
        if i == 3:
            break
    # an item counts once the loop body is done with it (e.g. committed): 3 of the 4 seen
    assert stream.getvalue().splitlines() == ["compare svcca: 3/10 blocks, 4 s"]


def test_a_terminal_gets_a_rich_bar_not_plain_lines():
    stream = TTY()
    assert list(track(range(3), total=3, label="train", stream=stream)) == [0, 1, 2]
    out = stream.getvalue()
    assert "train (networks)" in out and "3/3" in out
    assert "train: 3/3 networks" not in out
