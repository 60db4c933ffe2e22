"""gunicorn's settings for the web server: `gunicorn krenalis.wsgi --config gunicorn.conf.py`, as the
Docker image and docker-compose.yml run it (from /app). Each can be overridden on the command line.

Threads (gthread), not sync workers: a request that waits on a source database (a preview, "Test
connection") holds one thread of a process, and the other threads go on answering. With three sync
workers, three slow previews held the whole server (another workspace's GET /v1/connectors waited
30 s). Previews are also limited per process (KRENALIS_PREVIEW_CONCURRENCY, 4 of these 8 threads)
and cancelled after KRENALIS_PREVIEW_TIMEOUT.
"""
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A worker whose main loop stops answering for this long is restarted. With threads, a request that
# waits longer on a database does not count (its thread waits; the worker's loop does not).
timeout = 60
accesslog = "-"
