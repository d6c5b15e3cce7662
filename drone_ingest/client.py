"""The MQTT side of the ingester: subscribe, batch, store, acknowledge after the commit.

Connections are made by :mod:`drone_ingest.mqtt` (the one module that imports paho);
what arrives is handed on as :class:`~drone_ingest.handlers.Message` to the ingest
pipeline (:mod:`traceability.ingest`) through :mod:`drone_ingest.handlers`.

Delivery guarantees, end to end:

- QoS 1, a persistent session (``clean_session=False`` and a stable client id): what the
  broker delivered but we did not acknowledge is delivered again after a crash or a
  reconnect, and what arrives while we are away is queued for us.
- Manual acknowledgement: a message is acknowledged only after the transaction holding
  everything it carries has committed. A crash between the two means a redelivery, and
  the ``(drone_code, seq)`` unique key turns the repeat into a no-op: exactly once.
- A shared subscription (``$share/{group}/{prefix}/drones/+/+``) lets several ingesters split one
  stream; each message goes to one member of the group.

Broker limits matter with manual acks: the broker sends at most ``max_inflight_messages``
unacknowledged messages per client (Mosquitto's default is 20) and drops QoS 1 messages
beyond ``max_queued_messages`` (default 1000) queued for one client.
``deploy/mosquitto/mosquitto.conf`` holds the settings a production broker needs.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from drone_ingest import handlers, metrics
from drone_ingest.handlers import Message
from drone_ingest.lanes import Arrivals, Lane, is_end
from drone_ingest.mqtt import BrokerAddress, Client, new_client
from traceability.config import get_settings
from traceability.ingest.rejects import Reject, store_rejects
from traceability.ingest.store import KnownRows
from traceability.models import utcnow
from traceability.services import missions as mission_svc

log = logging.getLogger(__name__)

_TRANSIENT = (OperationalError, InterfaceError)
#: Flying missions previewed between two looks for missions that ended meanwhile (and
#: at the writer's backlog): few, because while a preview stores its result it holds its
#: mission's row, which the writer's next batch waits for.
PREVIEW_CHUNK = 2
#: The share of the time previews of flying missions take while more wait their turn:
#: after each :data:`PREVIEW_CHUNK` the measurer pauses three times as long as they took
#: (a second at most). Each preview reads all its mission's points again: at 6,000 drones
#: a pass took the process's time from storing the points (p99 from publish to readable
#: 3.6 s, BENCHMARKS.md). A fleet that large is previewed less often; a mission that ends
#: is measured at once, pause or not.
PREVIEW_SHARE = 0.25
#: And between chunks, while more than a quarter of a batch waits for the writer, the
#: previews wait too, this long at most each time (at 6,000 drones, a chunk of ten that took
#: a second sent the writer's backlog from a few hundred messages to 3,000).
PREVIEW_YIELD_S = 2.0
#: Nor does a pass of previews start while a writer spent more than this share of the
#: last :data:`BUSY_WINDOW_S` storing batches: a stream that keeps it that busy is all it
#: can take, and a pass of previews (all their points read and measured again) took a
#: fifth of the process's CPU from a live stream of 10-point messages (BENCHMARKS.md).
BUSY_SHARE = 0.75
BUSY_WINDOW_S = 1.0


class StorageFault(RuntimeError):
    """The database answers but cannot hold the record (its tables are gone)."""


def default_client_id() -> str:
    """A client id stable across restarts of this host's ingester (the session is kept by id)."""
    return get_settings().ingest_client_id or f"agritrace-ingest-{socket.gethostname()}"[:64]


@dataclass
class IngestStats:
    """Running totals of one ingester."""

    messages: int = 0
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0  # of the rejected: re-sent (drone, seq) with other content
    events: int = 0
    measured: int = 0
    db_retries: int = 0


class Ingester:
    """Consume the drones' topics into the database, every point exactly once.

    One network thread (paho) queues messages, each into the lane of its drone; each
    lane's writer thread (``writers`` of them) stores its messages in batches (what is
    waiting, up to ``batch_size`` points; an idle writer lingers ``flush_ms`` after a
    first message for more) on a connection of its own, and the messages are
    acknowledged after the commit; a measuring thread measures completed missions that
    changed. While one writer waits for the database, another validates its next batch:
    on PostgreSQL their transactions run side by side; on SQLite, which writes one
    transaction at a time, they take turns at the database only.

    A mission's end event does not wait its turn behind a backlog of other drones'
    points: the writer stores it first, with its own drone's messages that came before it
    (so the mission is measured with every point it was sent), and the measuring thread
    measures completed missions before it previews flying ones. Acknowledgements still go
    out in the order the messages arrived (MQTT asks for PUBACKs in order).
    """

    def __init__(
        self,
        *,
        mqtt_url: str | None,
        engine,
        prefix: str = "agri",
        client_id: str | None = None,
        share_group: str = "agritrace",
        batch_size: int = 2000,
        flush_ms: int = 50,
        measure_interval_s: float = 2.0,
        open_measure_interval_s: float = 30.0,
        writers: int = 1,
    ) -> None:
        # None for a subclass with another transport (drone_ingest.amqp).
        self.address = BrokerAddress.parse(mqtt_url) if mqtt_url else None
        self.engine = engine
        self.prefix = prefix.strip("/")
        self.client_id = client_id or default_client_id()
        self.share_group = share_group
        self.batch_size = max(1, batch_size)
        self.flush_s = max(0.001, flush_ms / 1000.0)
        self.measure_interval_s = measure_interval_s
        # Missions still flying are measured too, less often, so that an operator sees
        # the coverage grow (first at once); only a completed mission writes the diaries.
        self.open_measure_interval_s = open_measure_interval_s
        self._open_measured_at = time.monotonic() - open_measure_interval_s
        self.max_bytes = get_settings().max_payload_bytes
        self.stats = IngestStats()
        # The contract's shape: what the broker's ACL lets an ingester read (deploy/mosquitto).
        topic = f"{self.prefix}/drones/+/+"
        self.subscription = f"$share/{share_group}/{topic}" if share_group else topic
        self._lanes = [Lane() for _ in range(max(1, writers))]
        # What is not yet acknowledged, in the order it arrived (the network thread
        # appends, the writers settle it in turn).
        self._unacked: deque[Message] = deque()
        self._settled: set[int] = set()  # id() of unacknowledged messages already stored
        self._settling = threading.Lock()
        self._queue = Arrivals(self._lanes, self._unacked)
        # SQLite writes one transaction at a time: its writers take turns at the database
        # here rather than in SQLite's busy handler, which sleeps.
        sqlite = engine is not None and engine.dialect.name == "sqlite"
        self._db_turn = threading.Lock() if sqlite else contextlib.nullcontext()
        # The drones and missions met in earlier batches (never changed once stored).
        self._kept = KnownRows()
        self._writers_left = len(self._lanes)
        self._writers_lock = threading.Lock()
        self._stopping = threading.Event()
        self._writer_done = threading.Event()
        self._measure_now = threading.Event()
        self._ready = threading.Event()
        self._generation = 0
        # When the last message came (paho's clock, the same for the messages one read
        # of the socket took), and the wall-clock time then.
        self._arrived: float | None = None
        self._arrived_at = utcnow()
        self.failure: BaseException | None = None  # what stopped the writer, if anything
        self._db_down = False  # the writer is waiting for the database to come back
        self._client: Client | None = None
        self._threads: list[threading.Thread] = []

    # ---- life cycle

    def start(self) -> None:
        """Connect and consume in background threads; returns at once."""
        client = new_client(
            self.address, client_id=self.client_id, clean_session=False, read_ahead=True
        )
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publishes = self._on_publishes
        client.on_disconnect = self._on_disconnect
        self._client = client
        self._threads = self._worker_threads()
        for thread in self._threads:
            thread.start()
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()

    def _worker_threads(self) -> list[threading.Thread]:
        """The writers' threads, one a lane, then the measuring thread."""
        writers = [
            threading.Thread(
                target=self._write_loop,
                args=(lane,),
                name="ingest-writer" if i == 0 else f"ingest-writer-{i + 1}",
                daemon=True,
            )
            for i, lane in enumerate(self._lanes)
        ]
        measurer = threading.Thread(target=self._measure_loop, name="ingest-measurer", daemon=True)
        return [*writers, measurer]

    @property
    def generation(self) -> int:
        """How many times the ingester has connected to the broker."""
        return self._generation

    def checks(self) -> dict[str, bool]:
        """Readiness, check by check: subscribed, every writer alive, the database
        reachable (for ``/readyz``)."""
        writers = self._threads[: len(self._lanes)]
        alive = bool(writers) and all(w.is_alive() for w in writers) and self.failure is None
        checks = {
            "subscribed": self._ready.is_set(),
            "writer_alive": alive,
            "database": not self._db_down,
        }
        metrics.READY.set(1 if all(checks.values()) else 0)
        return checks

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Block until subscribed (True) or ``timeout`` passed (False)."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Flush, commit and acknowledge what was received, then disconnect."""
        self._stopping.set()
        self._writer_done.wait(timeout=60)
        self._measure_now.set()  # one last pass over what the final batches changed
        for thread in self._threads:
            thread.join(timeout=60)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    # ---- paho callbacks (network thread): never raise, never block

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error(
                "broker %s:%s refused the connection: %s",
                self.address.host,
                self.address.port,
                reason_code,
            )
            return
        self._generation += 1
        log.info(
            "connected to %s:%s as %s; subscribing to %s",
            self.address.host,
            self.address.port,
            self.client_id,
            self.subscription,
        )
        client.subscribe(self.subscription, qos=1)

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("the broker refused the subscription %s: %s", self.subscription, reason_codes)
            return
        self._ready.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self._ready.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, msg) -> None:
        # A message paho read itself (QoS 2, or one the read-ahead left to it), taken as
        # the read-ahead's own are: the fixed header's flags, the topic's bytes.
        first = msg.qos << 1 | bool(msg.retain) | bool(msg.dup) << 3
        topic = msg._topic  # noqa: SLF001 - paho offers no other way to the bytes
        self._on_publishes([(first, topic, msg.mid, bytes(msg.payload))], msg.timestamp)

    def _on_publishes(self, packets: list[tuple[int, bytes, int, bytes]], at: float) -> None:
        """What one read of the socket brought: ``(first byte, topic, packet id, payload)``
        of each PUBLISH, in order, and paho's clock at the read."""
        if self._stopping.is_set() or self.failure is not None:
            # Stopping: what is in hand is committed, nothing new is taken. Not
            # acknowledged, the message is delivered again next session (or to another
            # ingester of the group).
            return
        metrics.observe_received(len(packets))
        if at != self._arrived:  # one clock reading for the messages read together
            self._arrived, self._arrived_at = at, utcnow()
        arrived_at, generation, put = self._arrived_at, self._generation, self._queue.put
        for first, topic, mid, payload in packets:
            try:
                name = topic.decode()
            except UnicodeDecodeError:
                name = topic.decode("utf-8", errors="replace")
            put(
                handlers.message_of(
                    name,
                    payload,
                    first >> 1 & 3,
                    mid,
                    bool(first & 1),
                    generation,
                    arrived_at,
                    bool(first & 8),
                )
            )

    # ---- writer threads, one a lane

    def _next_batch(self, lane: Lane) -> list[Message]:
        """The next batch: what is waiting, up to ``batch_size`` points.

        Only a writer that found nothing waiting lingers, ``flush_s`` from the first
        message, for more to come with it (at a slow rate, a batch rather than a commit
        per message). Messages that queued while the last batch was being stored have
        waited that long already: they go at once, so that under load a point waits for
        one commit, not for a commit and a linger.
        """
        idle = not lane.backlog and lane.queue.empty()
        lane.take_arrived(0.1 if idle else 0)
        backlog = lane.backlog
        if not backlog:
            lane.behind = False
            return []
        if lane.ends_waiting:
            return lane.finishing_batch()
        batch: list[Message] = []
        points = 0
        deadline = time.monotonic() + (self.flush_s if idle else 0.0)
        while points < self.batch_size:
            if not backlog:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or lane.ends_waiting:
                    break
                lane.take_arrived(remaining)
                if not backlog:
                    break
            message = backlog.popleft()
            if is_end(message):
                lane.ends_waiting -= 1
            batch.append(message)
            points += max(1, message.payload.count(b'"seq"'))
        lane.behind = points >= self.batch_size or bool(backlog)
        return batch

    def _write_loop(self, lane: Lane) -> None:
        try:
            while True:
                batch = self._next_batch(lane)
                if batch:
                    lane.committing_since = started = time.monotonic()
                    self._commit(batch)
                    lane.commits.append((started, time.monotonic()))
                    lane.committing_since = None
                elif self._stopping.is_set():
                    break
        except BaseException as exc:
            # Never silently: readiness turns false and the process exits non-zero
            # (drone_ingest.service); what was not acknowledged is delivered again.
            self.failure = exc
            metrics.WRITER_FAILED.set(1)
            log.critical("the writer stopped: %s: %s", type(exc).__name__, exc, exc_info=exc)
        finally:
            with self._writers_lock:
                self._writers_left -= 1
                if not self._writers_left:
                    self._writer_done.set()

    def _commit(self, messages: list[Message]) -> None:
        delay = 0.05
        while True:
            started = time.perf_counter()
            try:
                # Validated outside the database's turn (afresh on a retry: a batch
                # holds what its last attempt refused).
                batch = handlers.batch_of(messages, prefix=self.prefix, max_bytes=self.max_bytes)
                with self._db_turn, Session(self.engine) as session:
                    result = handlers.commit_batch(session, batch, self._kept)
                break
            except _TRANSIENT as exc:
                # The database is away or busy: keep the messages unacknowledged and retry;
                # the broker holds everything behind them meanwhile.
                self._check_storage(exc)
                self.stats.db_retries += 1
                self._db_down = True
                metrics.DB_RETRIES.inc()
                log.warning(
                    "database unavailable (%s); retrying in %.1f s", type(exc).__name__, delay
                )
                if self._stopping.is_set() and self.stats.db_retries > 50:
                    return  # give up without acknowledging: redelivered next session
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception as exc:  # a message the database refuses must not block the rest
                if len(messages) > 1:
                    log.warning(
                        "batch of %d failed (%s); storing message by message", len(messages), exc
                    )
                    for message in messages:
                        self._commit([message])
                    return
                self._check_storage(exc)
                self._poison(messages[0], exc)
                return
        self._db_down = False
        self._settle(messages)
        metrics.observe_batch(result, messages=len(messages), seconds=time.perf_counter() - started)
        for reject in result.refused:
            log.info("reject: %s", reject.reason, extra=_context(reject.topic, reject.reason))
        s = self.stats
        s.batches += 1
        s.messages += len(messages)
        s.stored += result.stored
        s.duplicates += result.duplicates
        s.rejected += result.rejected
        s.conflicts += result.conflicts
        s.events += result.events
        if result.ended:
            self._measure_now.set()

    def _check_storage(self, cause: Exception) -> None:
        """Raise :class:`StorageFault` if the record's tables are gone (not the message's
        fault: storing it as a reject, or waiting, would hide a broken database)."""
        try:
            with Session(self.engine) as session:
                missing = handlers.missing_tables(session)
        except _TRANSIENT:
            return  # the database is away: that is what the caller waits out
        if missing:
            raise StorageFault(f"tables missing: {', '.join(missing)}") from cause

    def _poison(self, message: Message, exc: Exception) -> None:
        log.exception(
            "message on %s could not be stored; keeping it as a reject",
            message.topic,
            extra=_context(message.topic, type(exc).__name__),
        )
        reason = _not_stored(exc)
        reject = Reject.of(
            topic=message.topic,
            payload=message.payload,
            reason=reason,
            received_at=message.received_at,
            redelivered=message.redelivered,
        )
        try:
            stored = self._keep_reject(reject)
        except Exception:  # the reject itself refused: keep it again, all in ASCII escapes
            log.exception("the reject could not be stored; keeping it escaped")
            stored = self._keep_reject(_escaped(reject))  # raises: the writer stops
        if not stored:
            return
        metrics.observe_reject(reason)
        self.stats.rejected += 1
        self._settle([message])

    def _keep_reject(self, reject: Reject) -> bool:
        """Store one reject, waiting out a database away; False if stopping meanwhile."""
        while True:
            try:
                with Session(self.engine) as session:
                    store_rejects(session, rejects=[reject])
                    session.commit()
                self._db_down = False
                return True
            except _TRANSIENT:
                self._db_down = True
                if self._stopping.is_set():
                    return False
                time.sleep(1.0)

    def _settle(self, messages: list[Message]) -> None:
        """Mark ``messages`` stored; acknowledge every stored message that arrived before
        the first one still waiting (a finishing batch may be stored ahead of its turn)."""
        with self._settling:  # one writer at a time, so acknowledgements go out in order
            settled = self._settled
            settled.update(map(id, messages))
            unacked = self._unacked
            ready = []
            while unacked and id(unacked[0]) in settled:
                message = unacked.popleft()
                settled.discard(id(message))
                ready.append(message)
            if ready:
                self._ack(ready)

    def _ack(self, messages: list[Message]) -> None:
        client = self._client
        if client is None:
            return
        # A message from an earlier connection is delivered again on this one with a new
        # identity; acknowledging the old mid here could acknowledge another message.
        generation = self._generation
        ours = (m for m in messages if m.qos > 0 and m.generation == generation)
        ack_many = getattr(client, "ack_many", None)  # not on a paho without our client
        # In arrival order, a run of one QoS at a time: QoS 1 in one write where it can.
        for qos, run in groupby(ours, key=attrgetter("qos")):
            mids = [m.mid for m in run]
            if qos == 1 and ack_many is not None:
                ack_many(mids)
            else:
                for mid in mids:
                    client.ack(mid, qos)

    # ---- measuring thread

    def _preview_due(self, now: float) -> bool:
        """Whether this pass measures the missions still flying too.

        Every ``open_measure_interval_s``, but not while a writer is behind (its last
        batch was full) or busy (:meth:`_writer_busy`): re-measuring a flying mission
        reads and measures all its points again, and on a fast live stream that took
        about 40 % of the process's CPU from storing the points. Put off ten intervals
        at most, so that under a sustained load the operators' view of the coverage
        still moves.
        """
        since = now - self._open_measured_at
        if since < self.open_measure_interval_s:
            return False
        if since >= 10 * self.open_measure_interval_s:
            return True
        return not any(lane.behind for lane in self._lanes) and not self._writer_busy(now)

    def _writer_busy(self, now: float) -> bool:
        """Whether a writer spent more than :data:`BUSY_SHARE` of the last
        :data:`BUSY_WINDOW_S` seconds before ``now`` storing batches."""
        limit = BUSY_SHARE * BUSY_WINDOW_S
        return any(lane.busy_s(now, BUSY_WINDOW_S) > limit for lane in self._lanes)

    def _measure_loop(self) -> None:
        while True:
            self._measure_now.wait(self.measure_interval_s)
            self._measure_now.clear()
            stopping = self._writer_done.is_set()
            try:
                with Session(self.engine) as session:
                    mission_svc.close_idle(session, idle_s=get_settings().mission_idle_close_s)
                    self._measure_complete(session)
                    if self._preview_due(time.monotonic()):
                        self._open_measured_at = time.monotonic()
                        self._measure_flying(session)
            except _TRANSIENT as exc:
                log.warning("measuring postponed: %s", type(exc).__name__)
            except Exception:
                log.exception("measuring failed")
            if stopping:
                return

    def _measure_complete(self, session: Session) -> None:
        """Measure every completed mission that changed (their diary lines with them)."""
        while True:
            done = mission_svc.measure_dirty(session, limit=50)
            self.stats.measured += len(done)
            if len(done) < 50:
                return

    def _measure_flying(self, session: Session) -> None:
        """Preview each flying mission that changed once, a few at a time, pausing between
        (:data:`PREVIEW_SHARE`); a mission that ends meanwhile is measured before the next
        few (its result may not wait behind them). Once each: points keep arriving, and a
        pass that took the changed ones again would never end."""
        flying = mission_svc.dirty_flying(session)
        for i in range(0, len(flying), PREVIEW_CHUNK):
            started = time.monotonic()
            done = mission_svc.measure_dirty(
                session, mission_ids=flying[i : i + PREVIEW_CHUNK], include_open=True
            )
            self.stats.measured += len(done)
            if self._writer_done.is_set():
                self._measure_complete(session)
                return  # stopping: what flies is previewed by the next pass, or ingester
            if i + PREVIEW_CHUNK < len(flying):  # a pause, which a mission's end cuts short
                took = time.monotonic() - started
                ended = self._measure_now.wait(min(1.0, took * (1 / PREVIEW_SHARE - 1)))
                ended = ended or self._yield_to_writer(PREVIEW_YIELD_S)
            else:
                ended = self._measure_now.is_set()
            if ended:
                self._measure_now.clear()
                self._measure_complete(session)

    def _writer_backlog(self) -> int:
        """Messages waiting for the writers (read from another thread: a moment's view)."""
        return sum(lane.waiting() for lane in self._lanes)

    def _yield_to_writer(self, at_most: float) -> bool:
        """Wait while more than a quarter of a batch waits for the writer, ``at_most``
        seconds at most; whether a mission's end cut the wait short."""
        deadline = time.monotonic() + at_most
        while self._writer_backlog() > self.batch_size // 4 and time.monotonic() < deadline:
            if self._measure_now.wait(0.05):
                return True
        return False


def _escaped(reject: Reject) -> Reject:
    """``reject`` with topic, payload and reason as ASCII escapes any text column holds."""
    return Reject(
        topic=ascii(reject.topic)[1:-1],
        payload=ascii(reject.payload)[1:-1],
        reason=ascii(reject.reason)[1:-1],
        received_at=reject.received_at,
        redelivered=reject.redelivered,
    )


def _not_stored(exc: Exception) -> str:
    """Why the database refused a message, in the driver's words: SQLAlchemy's own text
    quotes the statement and its parameters, which tell an operator nothing."""
    cause = getattr(exc, "orig", None) or exc
    first = next(iter(str(cause).strip().splitlines()), "")[:300]
    return f"could not be stored: {type(cause).__name__}: {first}"


def _context(topic: str, reason: str) -> dict[str, str]:
    """Log context of a message: its topic, the drone it names and the reason."""
    levels = topic.split("/")
    drone = levels[2] if len(levels) > 3 and levels[1] == "drones" else ""
    return {"topic": topic, "drone": drone, "reason": reason}
