# Omnico image: one image for every process (web, worker, beat, migrate); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    OMNICO_VAR_DIR=/app/var

RUN pip install --no-cache-dir uv \
    && useradd --system --create-home --uid 10001 omnico

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
RUN uv sync --frozen --no-dev \
    && rm -rf /app/var \
    && mkdir -p /app/var \
    && chown omnico:omnico /app/var

USER omnico
EXPOSE 8000
VOLUME ["/app/var"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
