"""WSGI entry point for gunicorn: ``gunicorn 'zorgreserve.wsgi:app'``.

With ``REDIS_URL`` set, jobs go to Redis and separate ``zorgreserve worker``
processes run them. Without it (embedded default) the in-process worker thread
is started here, which is only correct with a single gunicorn worker process.
"""

from __future__ import annotations

from zorgreserve import create_app
from zorgreserve.app import freeze_startup_objects
from zorgreserve.jobs.queue import InProcessWorker, is_embedded

app = create_app()
freeze_startup_objects()

if is_embedded(app) and app.config["INPROCESS_WORKER"]:
    InProcessWorker(app).start()
