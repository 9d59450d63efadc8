# syntax=docker/dockerfile:1
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, in their own layer: source changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p cds_service cards && touch cds_service/__init__.py \
    && pip install . && pip uninstall -y ketamine-cds && rm -rf cds_service cards

# The service and its knowledge base (validated at start-up: a bad rule file stops the container).
COPY cds_service ./cds_service
COPY cards ./cards
RUN pip install --no-deps . && useradd --system --uid 10001 --home-dir /app cds \
    && mkdir -p /data && chown cds /data
USER cds

# Behind TLS termination. CDS_AUTH=jwt needs CDS_TRUSTED_ISSUERS (without it the container stops at once with
# one line saying so); with CDS_AUTH=off the service refuses to bind 0.0.0.0 unless
# CDS_ALLOW_UNAUTHENTICATED_PUBLIC_BIND=true is set explicitly.
ENV CDS_DATA_DIR=/data CDS_AUTH=jwt
# The SQLite audit and feedback store lives here: mount a volume, or feedback is lost with the container.
# The image runs with --read-only; /data is then the only place it writes.
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["cds-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
