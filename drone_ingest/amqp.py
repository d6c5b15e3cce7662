"""The one module that imports pika: the ingester's road in over AMQP (RabbitMQ).

Drones keep speaking MQTT, unchanged, to RabbitMQ's MQTT plugin, which publishes each
message to the ``amq.topic`` exchange with the topic as routing key (``/`` and ``.``
swapped: ``agri/drones/D1/telemetry`` becomes ``agri.drones.D1.telemetry``). The
ingesters consume one durable quorum queue bound to ``{prefix}.drones.#``:

- competing consumers: every ingester on the queue gets a share of the messages, and
  adding ingesters or broker nodes needs no change here;
- a message is acknowledged only after the transaction holding it has committed; a
  crash means a redelivery and the ``(drone_code, seq)`` key makes the repeat a no-op;
- the prefetch is twice the batch, so the next batch fills while one commits;
  acknowledgements go out as one ``multiple`` frame per batch;
- a message that never gets acknowledged (one that makes every ingester crash before
  its commit) is delivered at most the delivery limit + 1 times (``AGRITRACE_INGEST_
  DELIVERY_LIMIT``, :data:`DELIVERY_LIMIT` by default), then the broker
  moves it to the dead-letter queue ``{queue}.dead``, where it waits, visible, for an
  operator (:func:`dead_letters`, :func:`replay_dead_letters`). A message the pipeline
  refuses is no such case: it is kept as a reject and acknowledged.

:class:`AmqpIngester` is :class:`~drone_ingest.client.Ingester` with another transport:
the same writer thread, batches, handlers, rejects and measuring, and the same
``start`` / ``wait_ready`` / ``stop`` / ``stats``. Only the receiving and the
acknowledging differ. The routing key is turned back into the MQTT topic, so the
handlers and the ingest pipeline see exactly what the MQTT ingester sees.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from dataclasses import dataclass

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker, UnroutableError

from drone_ingest import metrics
from drone_ingest.client import Ingester
from drone_ingest.handlers import Message

log = logging.getLogger(__name__)
# pika tells every step of every connection at INFO: keep its warnings only.
logging.getLogger("pika").setLevel(logging.WARNING)

EXCHANGE = "amq.topic"
#: Quorum queues are replicated over the cluster's nodes and survive a node's loss.
QUORUM = {"x-queue-type": "quorum"}
#: Deliveries after the first before a message is dead-lettered. A crash mid-batch
#: returns a whole prefetch of innocent messages with it, so a few crashes in a row
#: (a database restarting under the ingesters) must not dead-letter good data; a message
#: that crashes the ingester every time is out after six.
DELIVERY_LIMIT = 5
#: RabbitMQ's answer to a redeclaration with other arguments (PRECONDITION_FAILED).
_PRECONDITION_FAILED = 406
MAX_PREFETCH = 65535  # the protocol's field is 16 bits
_SWAP = str.maketrans({"/": ".", ".": "/"})
_RECONNECT_S = 1.0


def topic_to_routing_key(topic: str) -> str:
    """RabbitMQ's MQTT plugin's mapping: ``/`` becomes ``.`` and ``.`` becomes ``/``.

    >>> topic_to_routing_key("agri/drones/DJI.7/telemetry")
    'agri.drones.DJI/7.telemetry'
    """
    return topic.translate(_SWAP)


def routing_key_to_topic(key: str) -> str:
    """The MQTT topic a routing key came from (the swap undone).

    >>> routing_key_to_topic("agri.drones.DJI/7.telemetry")
    'agri/drones/DJI.7/telemetry'
    """
    return key.translate(_SWAP)


def binding_key(prefix: str) -> str:
    """The binding of the ingest queue: every topic under ``{prefix}/drones/``.

    >>> binding_key("agri"), binding_key("vn/bac-lieu")
    ('agri.drones.#', 'vn.bac-lieu.drones.#')
    """
    return topic_to_routing_key(prefix.strip("/")) + ".drones.#"


def dead_letter_queue(queue: str) -> str:
    """The queue where ``queue``'s messages go after too many deliveries.

    >>> dead_letter_queue("agritrace.ingest")
    'agritrace.ingest.dead'
    """
    return f"{queue}.dead"


def queue_arguments(queue: str, delivery_limit: int = DELIVERY_LIMIT) -> dict:
    """The ingest queue's arguments: quorum, a delivery limit, its dead-letter queue.

    Dead letters go through the default exchange straight to ``{queue}.dead``; the
    message keeps its topic in its ``x-death`` header. ``at-least-once`` makes the
    broker drop the message from the ingest queue only once the dead-letter queue holds
    it (that strategy needs ``reject-publish`` overflow; the queue has no length limit,
    so this never refuses a drone).
    """
    return QUORUM | {
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead_letter_queue(queue),
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def _connect(amqp_url: str, name: str = "agritrace") -> pika.BlockingConnection:
    params = pika.URLParameters(amqp_url)
    params.client_properties = {"connection_name": name}
    return pika.BlockingConnection(params)


def declare_queue(
    conn: pika.BlockingConnection,
    *,
    queue: str,
    prefix: str,
    delivery_limit: int = DELIVERY_LIMIT,
):
    """The durable quorum queue and its dead-letter queue, bound (idempotent): a channel.

    A queue declared by an earlier agritrace has no delivery limit, and RabbitMQ refuses
    to redeclare it with one (PRECONDITION_FAILED, which closes the channel); so is a
    queue declared with another limit than ``delivery_limit``. It is then used as it is,
    with a warning: a policy gives it the limit without losing what it holds
    (``deploy/rabbitmq/policy.sh``, docs/operations.md).
    """
    channel = conn.channel()
    channel.queue_declare(queue=dead_letter_queue(queue), durable=True, arguments=QUORUM)
    try:
        channel.queue_declare(
            queue=queue, durable=True, arguments=queue_arguments(queue, delivery_limit)
        )
    except ChannelClosedByBroker as exc:
        if exc.reply_code != _PRECONDITION_FAILED:
            raise
        log.warning(
            "queue %s exists with other arguments (declared by an earlier version without "
            "a delivery limit, or with a limit other than %d): using it as it is; a policy "
            "sets the limit on it (deploy/rabbitmq/policy.sh), without one a message that "
            "crashes every ingester is redelivered for ever (%s)",
            queue,
            delivery_limit,
            exc.reply_text,
        )
        channel = conn.channel()
        channel.queue_declare(queue=queue, passive=True)
    channel.queue_bind(queue=queue, exchange=EXCHANGE, routing_key=binding_key(prefix))
    return channel


def ensure_queue(
    amqp_url: str, *, queue: str, prefix: str, delivery_limit: int = DELIVERY_LIMIT
) -> int:
    """Declare and bind the queue; returns how many messages wait in it.

    Drones' messages reach the queue only once it is bound: run this (or start an
    ingester) before the drones fly.
    """
    with _connect(amqp_url) as conn:
        channel = declare_queue(conn, queue=queue, prefix=prefix, delivery_limit=delivery_limit)
        return channel.queue_declare(queue=queue, passive=True).method.message_count


def delete_queue(amqp_url: str, *, queue: str) -> None:
    """Delete the queue, its dead-letter queue and what they hold (tests, benchmarks)."""
    with _connect(amqp_url) as conn:
        channel = conn.channel()
        channel.queue_delete(queue=queue)
        channel.queue_delete(queue=dead_letter_queue(queue))


@dataclass(frozen=True)
class DeadLetter:
    """A message the broker gave up delivering: where it came from and why."""

    topic: str
    reason: str  # RabbitMQ's: ``delivery_limit``, ``rejected``, ``expired``...
    deaths: int
    payload: bytes


def _dead_letter(properties, body: bytes) -> DeadLetter:
    death = ((properties.headers or {}).get("x-death") or [{}])[0]
    keys = death.get("routing-keys") or [""]
    return DeadLetter(
        topic=routing_key_to_topic(keys[0]),
        reason=str(death.get("reason", "")),
        deaths=int(death.get("count", 0)),
        payload=body,
    )


def dead_letters(amqp_url: str, *, queue: str, limit: int = 100) -> list[DeadLetter]:
    """Look at up to ``limit`` of the queue's dead letters, leaving them where they are.

    Each is fetched without acknowledgement and goes back when the connection closes.
    """
    found = []
    with _connect(amqp_url) as conn:
        channel = conn.channel()
        channel.queue_declare(queue=dead_letter_queue(queue), durable=True, arguments=QUORUM)
        while len(found) < limit:
            method, properties, body = channel.basic_get(dead_letter_queue(queue))
            if method is None:
                break
            found.append(_dead_letter(properties, body))
    return found


def replay_dead_letters(amqp_url: str, *, queue: str, limit: int | None = None) -> int:
    """Publish dead letters again on their topics (after a fix); returns how many.

    Each goes back to the drones' exchange with its original routing key, so it reaches
    the ingest queue (and any other bound there) with a fresh delivery count; it leaves
    the dead-letter queue only once the broker has confirmed the publication.
    """
    moved = 0
    with _connect(amqp_url) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        while limit is None or moved < limit:
            method, properties, body = channel.basic_get(dead_letter_queue(queue))
            if method is None:
                break
            letter = _dead_letter(properties, body)
            try:
                channel.basic_publish(
                    EXCHANGE,
                    topic_to_routing_key(letter.topic),
                    body,
                    pika.BasicProperties(delivery_mode=2, headers=properties.headers),
                    # Unroutable (the ingest queue's binding gone) is refused, not dropped.
                    mandatory=True,
                )
            except UnroutableError:
                # Not acknowledged: the letter goes back to the dead-letter queue.
                log.warning("no queue is bound to %r: dead letter left where it is", letter.topic)
                break
            channel.basic_ack(method.delivery_tag)
            moved += 1
    return moved


class AmqpIngester(Ingester):
    """Consume the drones' messages from a quorum queue, every point exactly once.

    One consumer thread owns the AMQP connection (pika's connections are not shared
    between threads): it receives deliveries into the writer's queue and runs the
    acknowledgements the writer hands it after each commit.
    """

    def __init__(
        self,
        *,
        amqp_url: str,
        engine,
        prefix: str = "agri",
        queue: str = "agritrace.ingest",
        delivery_limit: int = DELIVERY_LIMIT,
        client_id: str | None = None,
        batch_size: int = 2000,
        flush_ms: int = 50,
        **kw,
    ) -> None:
        super().__init__(
            mqtt_url=None,
            engine=engine,
            prefix=prefix,
            client_id=client_id,
            share_group="",
            batch_size=batch_size,
            flush_ms=flush_ms,
            **kw,
        )
        self.amqp_url = amqp_url
        self.queue = queue
        self.delivery_limit = delivery_limit
        self.binding = binding_key(self.prefix)
        self.subscription = f"queue {queue} ({EXCHANGE} {self.binding})"
        self.prefetch = min(MAX_PREFETCH, 2 * self.batch_size)
        self._closing = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._acked_upto = 0  # every delivery tag up to this one is acknowledged

    # ---- life cycle

    def start(self) -> None:
        """Connect and consume in background threads; returns at once."""
        self._threads = self._worker_threads()
        self._consumer = threading.Thread(
            target=self._consume_loop, name="ingest-amqp", daemon=True
        )
        for thread in (*self._threads, self._consumer):
            thread.start()

    def stop(self) -> None:
        """Stop receiving, commit and acknowledge what was received, then disconnect.

        What was delivered but not committed goes back to the queue when the connection
        closes, for another ingester or the next start.
        """
        super().stop()  # the consumer cancels on ``_stopping``; the writer drains
        self._closing.set()
        self._consumer.join(timeout=30)

    # ---- consumer thread: owns the connection

    def _consume_loop(self) -> None:
        while not self._closing.is_set():
            try:
                self._consume_once()
            except AMQPError as exc:
                self._ready.clear()
                if self._closing.is_set():
                    return
                log.warning("AMQP connection lost (%r); reconnecting", exc)
                time.sleep(_RECONNECT_S)
            except Exception:
                self._ready.clear()
                log.exception("AMQP consumer failed; reconnecting")
                time.sleep(_RECONNECT_S)

    def _consume_once(self) -> None:
        """One connection's life: declare, consume until stopping, ack until closing."""
        conn = _connect(self.amqp_url, self.client_id)
        try:
            channel = declare_queue(
                conn, queue=self.queue, prefix=self.prefix, delivery_limit=self.delivery_limit
            )
            channel.basic_qos(prefetch_count=self.prefetch)
            self._generation += 1
            self._acked_upto = 0
            generation = self._generation
            on_message = functools.partial(self._on_delivery, generation)
            tag = channel.basic_consume(self.queue, on_message, auto_ack=False)
            self._connection, self._channel = conn, channel
            self._ready.set()
            log.info("consuming %s as %s", self.subscription, self.client_id)
            while not self._stopping.is_set():
                conn.process_data_events(time_limit=0.2)
            channel.basic_cancel(tag)
            self._ready.clear()
            # Keep running the writer's acknowledgements until it has finished.
            while not self._closing.is_set():
                conn.process_data_events(time_limit=0.2)
            conn.process_data_events(time_limit=0)
        finally:
            self._connection = self._channel = None
            if conn.is_open:
                conn.close()

    def _on_delivery(self, generation: int, _channel, method, _properties, body: bytes) -> None:
        metrics.observe_received()
        self._queue.put(
            Message(
                topic=routing_key_to_topic(method.routing_key),
                payload=body,
                qos=1,
                mid=method.delivery_tag,
                generation=generation,
                redelivered=bool(method.redelivered),
            )
        )

    # ---- writer thread: hands acknowledgements to the consumer thread

    def _ack(self, messages: list[Message]) -> None:
        conn = self._connection
        generation = self._generation
        # Delivery tags belong to one channel: a message from an earlier connection is
        # delivered again on this one and acknowledged there.
        tags = [m.mid for m in messages if m.generation == generation]
        if conn is None or not tags:
            return
        # If the connection is gone meanwhile, the broker delivers the batch again.
        with contextlib.suppress(AMQPError):
            conn.add_callback_threadsafe(functools.partial(self._ack_tags, generation, tags))

    def _ack_tags(self, generation: int, tags: list[int]) -> None:
        """Acknowledge on the consumer thread, in one frame when the tags allow it."""
        channel = self._channel
        if channel is None or not channel.is_open or generation != self._generation:
            return
        tags = sorted(tags)
        # Tags count deliveries 1, 2, 3... on a channel. When this batch continues exactly
        # where every earlier one was acknowledged, one ``multiple`` acknowledgement covers
        # it; otherwise (a message left for redelivery below it) each is acknowledged alone.
        if tags[0] == self._acked_upto + 1 and tags[-1] - tags[0] == len(tags) - 1:
            channel.basic_ack(delivery_tag=tags[-1], multiple=True)
            self._acked_upto = tags[-1]
            return
        for tag in tags:
            channel.basic_ack(delivery_tag=tag)
