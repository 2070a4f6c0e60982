"""Store-and-forward on the station side (ledger/forwarding.py) against a recording bureau:
pushes go in order up to station checkpoints within the batch, resume from the bureau's
acknowledged size, and the bandwidth cap waits for the bytes sent."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from evidence.ids import Origin
from evidence.records import Checkpoint, TreeHead
from ledger.forwarding import Throttle, forward

ORIGIN = Origin("liuhen.test-bureau/station/pcs-a")


class _Reader:
    def __init__(self, size: int, checkpoint_sizes: Sequence[int]) -> None:
        self.data = [f"entry-{i}".encode() * 10 for i in range(size)]
        self._checkpoints = [Checkpoint(origin=ORIGIN, head=TreeHead(s, bytes(32)),
                                        note=f"note {s}\n".encode()) for s in checkpoint_sizes]

    def checkpoints(self) -> list[Checkpoint]:
        return list(self._checkpoints)

    def latest_checkpoint(self) -> Checkpoint | None:
        return self._checkpoints[-1] if self._checkpoints else None

    def entry_rows(self, start: int = 0,
                   end: int | None = None) -> Iterator[tuple[int, bytes, bytes]]:
        stop = len(self.data) if end is None else end
        return iter([(i, self.data[i], b"") for i in range(start, stop)])


class _Bureau:
    def __init__(self, held: int = 0) -> None:
        self.held = held
        self.pushes: list[tuple[int, int, bytes]] = []

    def acknowledged(self, station_id: str) -> int:
        return self.held

    def push(self, station_id: str, *, start: int, entries: Sequence[bytes],
             note: bytes) -> int:
        assert start == self.held, "pushes must start at the acknowledged size"
        self.pushes.append((start, len(entries), note))
        self.held = max(self.held, start + len(entries))
        return self.held


def test_pushes_follow_checkpoints_within_the_batch_and_resume() -> None:
    reader = _Reader(10, [2, 3, 7, 10])
    bureau = _Bureau(held=2)
    receipts: list[int] = []
    slept: list[float] = []
    result = forward(reader, bureau, station_id="pcs-a",  # type: ignore[arg-type]
                     throttle=Throttle(100, sleep=slept.append), max_batch=5,
                     on_receipt=receipts.append)
    # from 2: the largest checkpoint within 5 entries is 7, then 10
    assert [(s, n) for s, n, _ in bureau.pushes] == [(2, 5), (7, 3)]
    assert bureau.pushes[0][2] == b"note 7\n"
    assert result.acknowledged == 10 and result.entries == 8 and receipts == [2, 7, 10]
    sent = [sum(len(d) for d in reader.data[2:7]) + 7, sum(len(d) for d in reader.data[7:]) + 8]
    assert slept == [n / 100 for n in sent]


def test_a_checkpoint_farther_than_the_batch_is_still_pushed_whole() -> None:
    bureau = _Bureau()
    forward(_Reader(9, [9]), bureau, station_id="pcs-a",  # type: ignore[arg-type]
            throttle=Throttle(None, sleep=lambda _s: None), max_batch=4)
    assert [(s, n) for s, n, _ in bureau.pushes] == [(0, 9)]


def test_nothing_new_still_shows_the_latest_checkpoint() -> None:
    bureau = _Bureau(held=5)
    result = forward(_Reader(5, [5]), bureau, station_id="pcs-a",  # type: ignore[arg-type]
                     throttle=Throttle(None, sleep=lambda _s: None))
    assert bureau.pushes == [(5, 0, b"note 5\n")] and result.entries == 0
