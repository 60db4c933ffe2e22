# The image of the web, worker, beat and migrate services of docker-compose.yml.
# Debian bookworm, as on the machines the tests run on: trixie's libmariadb 3.4 verifies TLS
# certificates by default, and MySQL 8's own certificate is self-signed.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config libmariadb-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 1000 --home-dir /app krenalis
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY . .
# The static files (admin, console, CodeMirror, Swagger UI) into /app/staticfiles, which WhiteNoise
# serves from gunicorn; outside var/, so that a new image's files are not hidden by an old volume.
# Settings need keys; these placeholders only collect files and stay in no generated file.
RUN DJANGO_SECRET_KEY=collectstatic KRENALIS_ENCRYPTION_KEY=collectstatic \
    python manage.py collectstatic --noinput --verbosity 0
# var/ is a volume shared by the services; a new volume takes this directory's owner.
RUN mkdir -p var && chown krenalis var
USER krenalis
EXPOSE 8000
CMD ["gunicorn", "krenalis.wsgi", "--config", "gunicorn.conf.py"]
