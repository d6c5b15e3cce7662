#!/usr/bin/env bash
# RabbitMQ with its MQTT plugin on this machine, idempotently: the drones' MQTT on port
# 1884 (Mosquitto keeps 1883), AMQP on 5672 for the ingesters. Starts the broker if it
# is down and restarts it only when the configuration had to change. Run as root.
set -euo pipefail

CONF=${RABBITMQ_CONF:-/etc/rabbitmq/rabbitmq.conf}
MQTT_PORT=${AGRITRACE_RABBITMQ_MQTT_PORT:-1884}
LISTENER="mqtt.listeners.tcp.default = 127.0.0.1:${MQTT_PORT}"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { rabbitmqctl -q status >/dev/null 2>&1; }

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi

changed=false
mkdir -p "$(dirname "$CONF")"
touch "$CONF"
if ! grep -qxF "$LISTENER" "$CONF"; then
  # One MQTT listener, on loopback: drop any other line that sets it, then add ours.
  sed -i '/^mqtt\.listeners\.tcp\./d' "$CONF"
  echo "$LISTENER" >>"$CONF"
  changed=true
fi
if ! grep -q '^mqtt.allow_anonymous' "$CONF"; then
  echo "mqtt.allow_anonymous = true" >>"$CONF"
  changed=true
fi
if ! grep -qs 'rabbitmq_mqtt' /etc/rabbitmq/enabled_plugins; then
  rabbitmq-plugins --offline enable rabbitmq_mqtt >/dev/null
  changed=true
fi

if running && $changed; then
  echo "rabbitmq: configuration changed, restarting" >&2
  rabbitmqctl -q shutdown >/dev/null 2>&1 || rabbitmqctl -q stop >/dev/null 2>&1 || true
  for _ in $(seq 30); do running || break; sleep 1; done
fi
if ! running; then
  rabbitmq-server -detached
fi
for _ in $(seq 60); do port_open 5672 && port_open "$MQTT_PORT" && break; sleep 1; done
if ! port_open 5672 || ! port_open "$MQTT_PORT"; then
  echo "rabbitmq: AMQP 5672 or MQTT $MQTT_PORT is not listening" >&2
  exit 1
fi
# The ingest queue's delivery limit and dead-letter queue, also for a queue declared
# before agritrace declared them (a no-op for one declared with them).
"$(dirname "$0")/policy.sh"
