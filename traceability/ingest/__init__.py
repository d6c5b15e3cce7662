"""The ingest pipeline: what drones send, checked, batched and stored exactly once.

Shared by the MQTT ingester (``drone_ingest``), ``POST /api/v1/ingest/logs`` and
``agritrace ingest-log``. Along the flow:

- :mod:`~traceability.ingest.contract` — the wire contract: topics, payload rules, schemas;
- :mod:`~traceability.ingest.validate` — payloads into contract objects, bad ones rejected;
- :mod:`~traceability.ingest.batch` — validated work of many messages, for one transaction;
- :mod:`~traceability.ingest.store` — a batch written: missions, events, statuses, rejects;
- :mod:`~traceability.ingest.points` — the point rows, through the driver, each point once;
- :mod:`~traceability.ingest.rejects` — what could not be accepted, kept with its reason;
- :mod:`~traceability.ingest.logs` — flight logs recorded out of coverage, through the same;
- :mod:`~traceability.ingest.sources` — other fleets' records (MAVLink, ISO 11783-10
  TaskData, a vendor's CSV) translated into the contract, one adapter per source.

Nothing here knows about MQTT clients: the transport lives in ``drone_ingest``.
"""
