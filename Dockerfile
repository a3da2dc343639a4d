# The project's worker images, used by docker-compose.yml (one image per stage):
#   worker  the life and solver roles: persona lives, rooms, funding, negotiations, CP-SAT
#   host    the host role: adds nginx (fleet testbeds on the container's loopback), apt and dpkg
#           (app persona images are built from Debian packages) and busybox-static's source
#           package lists; it drives the Docker engine whose socket compose mounts into it.
FROM python:3.11-slim AS worker
WORKDIR /app
COPY pyproject.toml README.md ./
COPY personas personas
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY clients clients
COPY runtime runtime
COPY data data
RUN pip install --no-cache-dir .
# Metrics for Prometheus: the SDK's on 9464, the domain's on 9465 (workers/telemetry.py).
ENV PERSONAS_METRICS_HOST=0.0.0.0
EXPOSE 9464 9465
CMD ["personas-worker", "--role", "life"]

FROM worker AS host
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/cache/apt/archives/*.deb
# apt's package lists stay: the image builder resolves and downloads app packages with them.
CMD ["personas-worker", "--role", "host"]
