"""The ingester's lanes: each writer thread's share of the stream, by drone.

The network thread puts each message in the lane of its drone (:class:`Arrivals`), and
records the order the broker wants its acknowledgements in; each lane's writer stores
its own messages (:class:`Lane`). No paho, no database here.
"""

from __future__ import annotations

import queue
from collections import deque

from drone_ingest.handlers import Message


class Lane:
    """One writer thread's share of the stream: the messages of the drones that fall to it.

    A drone's messages all go to one lane, so they are stored in the order they came,
    and two lanes never write the same mission's row or the same point's key: their
    transactions do not wait for each other.
    """

    __slots__ = ("backlog", "behind", "commits", "committing_since", "ends_waiting", "queue")

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[Message] = queue.SimpleQueue()  # from the network thread
        # The writer's own side of the queue: what arrived and is not yet stored, and how
        # many end events it holds.
        self.backlog: deque[Message] = deque()
        self.ends_waiting = 0
        self.behind = False  # the last batch was full: more was waiting
        # When recent batches were stored: (started, ended), monotonic; and when the one
        # in hand started (None between batches).
        self.commits: deque[tuple[float, float]] = deque(maxlen=4096)
        self.committing_since: float | None = None

    def take_arrived(self, wait: float) -> None:
        """Move what the network thread queued for this lane into its backlog, waiting up
        to ``wait`` seconds for the first message if none is there."""
        arrived = self.queue
        try:
            message = arrived.get(timeout=wait) if wait > 0 else arrived.get_nowait()
        except queue.Empty:
            return
        backlog = self.backlog
        while True:
            backlog.append(message)
            if is_end(message):
                self.ends_waiting += 1
            try:
                message = arrived.get_nowait()
            except queue.Empty:
                return

    def finishing_batch(self) -> list[Message]:
        """The end events in the backlog, each with its drone's messages that came before
        it, taken out of the backlog in their order: stored ahead of the other drones'
        points, so that a finished mission is measured while the fleet's backlog waits."""
        last_end: dict[str, int] = {}
        for i, message in enumerate(self.backlog):
            if is_end(message):
                last_end[drone_of(message.topic)] = i
        batch: list[Message] = []
        rest: deque[Message] = deque()
        for i, message in enumerate(self.backlog):
            if i <= last_end.get(drone_of(message.topic), -1):
                batch.append(message)
            else:
                rest.append(message)
        self.backlog = rest
        self.ends_waiting = 0
        self.behind = True
        return batch

    def waiting(self) -> int:
        """Messages waiting for this lane's writer (a moment's view from another thread)."""
        return self.queue.qsize() + len(self.backlog)

    def busy_s(self, now: float, window_s: float) -> float:
        """Seconds of the ``window_s`` before ``now`` this lane's writer spent storing."""
        since = now - window_s
        busy = 0.0
        # Newest first, from a copy (the writer appends meanwhile).
        for started, ended in reversed(list(self.commits)):
            if ended <= since:
                break
            busy += ended - max(started, since)
        current = self.committing_since
        if current is not None:
            busy += now - max(current, since)
        return busy


class Arrivals:
    """Where the network thread puts what arrives: in the order the broker wants its
    acknowledgements, and into the lane of the message's drone."""

    __slots__ = ("lanes", "unacked")

    def __init__(self, lanes: list[Lane], unacked: deque[Message]) -> None:
        self.lanes = lanes
        self.unacked = unacked

    def put(self, message: Message) -> None:
        self.unacked.append(message)
        lanes = self.lanes
        if len(lanes) == 1:
            lanes[0].queue.put(message)
        else:
            lanes[hash(drone_of(message.topic)) % len(lanes)].queue.put(message)


def drone_of(topic: str) -> str:
    """The drone a topic names (``{prefix}/drones/{drone}/{kind}``), or the topic itself."""
    levels = topic.rsplit("/", 3)
    return levels[2] if len(levels) == 4 and levels[1] == "drones" else topic


def is_end(message: Message) -> bool:
    """Whether ``message`` is (by its look) a mission's end event: a hint for the order of
    storing only, so a false guess costs nothing but the order."""
    return message.topic.endswith("/mission") and b'"end"' in message.payload
