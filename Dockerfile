FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY traceability traceability
COPY drone_ingest drone_ingest
COPY agritrace agritrace
COPY fixtures fixtures
RUN pip install --no-cache-dir .
ENV AGRITRACE_TOPIC_PREFIX=agri
EXPOSE 8000
CMD ["agritrace", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
