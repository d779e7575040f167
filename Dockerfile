# callbot: `docker build -t callbot .` then
#   docker run --stop-timeout 30 --env-file callbot.env -p 3000:3000 -v callbot-data:/data callbot
# (--stop-timeout: SHUTDOWN_GRACE_S, 20 s by default, plus a margin; Docker kills after 10 s otherwise)
# Configuration comes only from the environment (see .env.example); the SQLite database lives on the /data volume.

# --- build: install the package and its dependencies into a virtualenv ------------------------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/callbot
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/callbot/bin/pip install --no-cache-dir . \
    && /opt/callbot/bin/callbot --help > /dev/null

# --- runtime: the virtualenv, the scenario for `callbot setup`, a non-root user --------------------------------
FROM python:3.11-slim-bookworm
ENV PATH=/opt/callbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_PATH=/data/callbot.db
RUN groupadd --system --gid 10001 callbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin callbot \
    && mkdir -p /data /app \
    && chown callbot:callbot /data
COPY --from=build /opt/callbot /opt/callbot
WORKDIR /app
COPY scenarios/outbound_call.js scenarios/outbound_call.js
USER 10001:10001
VOLUME ["/data"]
EXPOSE 3000
# No curl in a slim image: Python asks /healthz; urlopen raises (exit 1) unless it answers 200 (store reachable).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["callbot", "serve"]
