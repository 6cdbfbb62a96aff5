# One image for every portal process (web, worker, beat, watcher); docker-compose.yml picks the
# command. The SPA is built in a Node stage and copied in as static files.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORTAL_ENV=production
WORKDIR /app
# pg_dump / pg_restore for `manage.py backup` and `restore` (docs/operations.md); bookworm ships 15.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=frontend /src/frontend/dist ./frontend/dist
RUN useradd --system --uid 10001 portal && mkdir -p /app/var && chown portal /app/var
USER portal
EXPOSE 8000
CMD ["uvicorn", "portal.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
