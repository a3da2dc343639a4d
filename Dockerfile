# The project's worker image, used by docker-compose.yml.
FROM python:3.11-slim
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
CMD ["personas-worker"]
