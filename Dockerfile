FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# pg_dump and pg_restore for `agritrace backup` / `agritrace restore` (PostgreSQL 15).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY traceability traceability
COPY drone_ingest drone_ingest
COPY agritrace agritrace
COPY fixtures fixtures
RUN pip install --no-cache-dir .
# Run as an unprivileged user; `agritrace devices` writing the broker's files through a
# bind mount is run with --user 0 (docs/operations.md).
RUN useradd --system --uid 10001 --home-dir /app agritrace
USER agritrace
ENV AGRITRACE_TOPIC_PREFIX=agri
# 8000: the API; 9100: an ingester's /healthz, /readyz and /metrics (--http-port).
EXPOSE 8000 9100
CMD ["agritrace", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
