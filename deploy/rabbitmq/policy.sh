#!/usr/bin/env bash
# The ingest queue's delivery limit and dead-letter queue as a RabbitMQ policy, for a
# queue declared before agritrace declared them itself (RabbitMQ refuses to redeclare a
# queue with other arguments, and a quorum queue cannot be changed in place). A policy
# applies to the queue as it is, messages kept. Idempotent; run on a broker node as root.
#   AGRITRACE_INGEST_QUEUE   the ingest queue (default agritrace.ingest)
#   AGRITRACE_INGEST_DELIVERY_LIMIT  deliveries after the first before dead-lettering
#                                    (default 5, as the ingesters' own setting)
set -euo pipefail

QUEUE=${AGRITRACE_INGEST_QUEUE:-agritrace.ingest}
LIMIT=${AGRITRACE_INGEST_DELIVERY_LIMIT:-${AGRITRACE_DELIVERY_LIMIT:-5}}
VHOST=${RABBITMQ_VHOST:-/}

# The queue's name exactly: dots escaped, anchored (a policy's pattern is a regex).
pattern="^${QUEUE//./\\.}\$"
definition=$(printf '{"delivery-limit":%d,"dead-letter-exchange":"","dead-letter-routing-key":"%s.dead","dead-letter-strategy":"at-least-once","overflow":"reject-publish"}' "$LIMIT" "$QUEUE")
rabbitmqctl -q set_policy -p "$VHOST" --apply-to queues --priority 10 \
  "agritrace-dead-letters-${QUEUE}" "$pattern" "$definition"
