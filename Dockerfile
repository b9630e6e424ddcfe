# syntax=docker/dockerfile:1
# Ponte: build a virtual environment in one stage, run it as a non-root user in the next.
# The image serves against DATABASE_URL / PONTE_APP_DATABASE_URL (any PostgreSQL with pgvector);
# see docs/deploy.md for a compose file.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# PyPI's Linux torch wheel pulls CUDA libraries (several GB). To build a CPU-only image, pass
# PyTorch's CPU wheel index here: --build-arg PIP_EXTRA_INDEX_URL=<that index>.
ARG PIP_EXTRA_INDEX_URL=""
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install -c constraints.txt .

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --create-home --home-dir /home/ponte ponte
COPY --from=build /opt/venv /opt/venv
COPY migrations /opt/ponte/migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PONTE_MIGRATIONS_DIR=/opt/ponte/migrations \
    PONTE_HOST=0.0.0.0 \
    PONTE_PORT=8000
USER ponte
WORKDIR /home/ponte
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["ponte", "serve"]
