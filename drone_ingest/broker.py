"""An MQTT broker inside the process, for ``agritrace demo`` and for machines without Mosquitto.

It wraps amqtt's broker, which is asyncio-based, in a thread with its own event loop, so
synchronous code (the demo, tests) can start it, talk to it with ordinary paho clients and
stop it again.

What it supports (checked by ``tests/test_broker.py``): MQTT 3.1.1, QoS 0/1/2, retained
messages, Last Will and persistent sessions (``clean_session=False``: QoS 1 messages that
arrive while a client is away are delivered when it comes back). Every client is let in,
with or without a username: it listens on localhost for a demo, not on a network.

Two amqtt (0.12) behaviours are corrected here, because the ingester depends on them:

- amqtt's anonymous login marks every session "anonymous" and then never queues messages
  for it while it is offline, which silently turns persistent sessions into clean ones.
  :class:`OpenAuthPlugin` admits clients without that mark.
- On connect, amqtt sends a client the retained messages matching *every* client's
  subscriptions, not only its own, and it flags the messages queued for a returning
  persistent session as retained. :class:`_Broker` sends a client only the retained
  messages of its own subscriptions, and queued messages without the retain flag.

What it does not support: MQTT 5 and **shared subscriptions** (``$share/group/filter``).
amqtt treats ``$share/...`` as an ordinary filter that no topic ever matches, so a client
subscribing that way silently receives nothing. Against this broker, run ONE ingester
subscribed to the plain filter; several ingesters sharing the load need Mosquitto or
another broker with shared subscriptions. :data:`SUPPORTS_SHARED_SUBSCRIPTIONS` says so to
callers that choose their subscription topic.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin

__all__ = ["SUPPORTS_SHARED_SUBSCRIPTIONS", "BrokerError", "EmbeddedBroker", "OpenAuthPlugin"]

#: amqtt has no ``$share/`` subscriptions: subscribe to plain filters on this broker.
SUPPORTS_SHARED_SUBSCRIPTIONS = False

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 15.0


class BrokerError(RuntimeError):
    """The embedded broker could not start or stop."""


class OpenAuthPlugin(BaseAuthPlugin):
    """Admit every client as a named (not anonymous) one, so persistent sessions persist."""

    @dataclass
    class Config:
        """No options: everyone on the listening address is let in."""

    async def authenticate(self, *, session) -> bool:
        """Accept the client."""
        return True


class _Broker(Broker):
    """amqtt's broker, sending a connecting client only the retained messages it asked for."""

    async def _publish_retained_messages_for_subscription(self, subscription, session) -> None:
        # Called on connect for every filter of every client; skip filters of other clients.
        subscribers = self._subscriptions.get(subscription[0], ())
        if any(s.client_id == session.client_id for s, _qos in subscribers):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    async def _publish_session_retained_messages(self, session) -> None:
        # amqtt calls the queue of messages kept for an offline session "retained"; they are
        # ordinary messages, and a retain flag would tell the client they are stale state.
        handler = self._get_handler(session)
        if handler is None:
            return
        while not session.retained_messages.empty():
            queued = await session.retained_messages.get()
            await handler.mqtt_publish(queued.topic, queued.data, queued.qos, retain=False)


def _free_port(host: str) -> int:
    # amqtt accepts port 0 but keeps the chosen port in private attributes; asking the
    # OS first is simpler. Another process could take the port in between, in which case
    # start() fails loudly rather than listening somewhere unexpected.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmbeddedBroker:
    """An in-process MQTT broker running in a background thread.

    Parameters
    ----------
    host : str
        Address to listen on.
    port : int
        TCP port; 0 picks a free one.

    Examples
    --------
    >>> broker = EmbeddedBroker()
    >>> url = broker.start()  # doctest: +SKIP
    >>> url  # doctest: +SKIP
    'mqtt://127.0.0.1:43121'
    >>> broker.stop()  # doctest: +SKIP
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> str:
        """Start listening and return the broker's URL; raises ``BrokerError`` on failure."""
        if self.running:
            return self.url
        if self.port == 0:
            self.port = _free_port(self.host)
        # amqtt logs every connection and packet at INFO; the demo's console is for people.
        logging.getLogger("amqtt").setLevel(logging.ERROR)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name=f"mqtt-broker-{self.port}", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), loop)
        try:
            future.result(_START_TIMEOUT_S)
        except (Exception, FutureTimeout) as exc:  # noqa: BLE001 - any failure means "not started"
            self._halt_loop()
            raise BrokerError(
                f"embedded MQTT broker could not listen on {self.url}: {exc}"
            ) from exc
        return self.url

    async def _start(self) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # Only our auth plugin: the default set also publishes $SYS statistics and logs
            # every packet, which costs throughput and says nothing to a demo user.
            "plugins": {f"{__name__}.OpenAuthPlugin": {}},
        }
        self._broker = _Broker(config)
        await self._broker.start()

    def stop(self) -> None:
        """Disconnect every client and stop the broker thread (idempotent)."""
        if self._loop is None:
            return
        if self._broker is not None and self.running:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(_STOP_TIMEOUT_S)
            except (Exception, FutureTimeout) as exc:  # noqa: BLE001 - stop anyway
                logging.getLogger(__name__).warning(
                    "embedded broker did not shut down cleanly: %s", exc
                )
        self._broker = None
        self._halt_loop()

    def _halt_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(_STOP_TIMEOUT_S)
        if not loop.is_running():
            # Let cancelled connection handlers finish so the loop closes without warnings.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
