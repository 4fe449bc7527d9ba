# The service image of docker-compose.yml: the `translator` CLI and its Celery workers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY translator ./translator
COPY worker ./worker
COPY mappings ./mappings
RUN pip install .
COPY examples ./examples

# Workers never need root; dead letters of an in-process forward go to /app/data.
RUN useradd --system --uid 10001 --home-dir /app translator \
    && mkdir -p /app/data && chown translator /app/data
USER translator
ENV TRANSLATOR_DEAD_LETTER_PATH=/app/data/dead-letters.jsonl

ENTRYPOINT ["translator"]
CMD ["worker"]
