"""Real-browser fixtures: a live server with its own database and worker, and Debian's Chromium.

The server answers from another thread, so it cannot use the rolled-back
``database`` fixture: it gets its own SQLite file with schema and reference data,
CSRF switched on as in production, and the embedded queue worked by the same
background thread ``zorgreserve run`` starts, so e-mails are really sent by jobs.

The browser is the system Chromium driven by Playwright's sync API; nothing is
downloaded. pytest-playwright's own ``browser``/``page`` fixtures are not used
because they launch Playwright's bundled browsers.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.conftest import base_config, reset_schema, unavailable

CHROMIUM = os.environ.get("ZR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    app: Flask

    def wait_for_mail(self, to: str, timeout: float = 15) -> Any:
        """The first captured e-mail to ``to``, waiting for the worker thread to send it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(getattr(self.app.extensions["mailman"], "outbox", [])):
                if to in message.to:
                    return message
            time.sleep(0.1)
        pytest.fail(f"no e-mail to {to} within {timeout} s: is the in-process worker running the jobs?")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, for one test module."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable("Chromium", f"{CHROMIUM} does not exist (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("Playwright", f"{exc} (pip install -e '.[test]')")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
    except Exception as exc:
        playwright.stop()
        unavailable("Chromium", f"{CHROMIUM} did not start: {str(exc).splitlines()[0]}")
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture(scope="module")
def live_server(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real Zorgreserve on 127.0.0.1 and a free port, with its own database and worker.

    It depends on the session ``app`` so that app binds the process-wide engine
    first; the engine (and the app jobs fall back to) are put back afterwards so
    the tests that follow run against the usual test database again.
    """
    from werkzeug.serving import make_server

    from worker import jobs as worker_jobs
    from zorgreserve import create_app, db
    from zorgreserve.jobs.queue import InProcessWorker
    from zorgreserve.reference.loader import load_all

    folder = tmp_path_factory.mktemp("live-server")
    previous_engine = db.get_engine()
    previous_job_app = worker_jobs._app
    config = base_config() | {
        "DATABASE_URL": f"sqlite:///{folder / 'live.sqlite3'}",
        "WTF_CSRF_ENABLED": True,
    }
    live = create_app(config, instance_path=str(folder / "instance"))
    engine = db.get_engine()
    server = None
    worker = None
    thread = None
    try:
        reset_schema(engine)
        with live.app_context(), db.transaction() as session:
            load_all(session)
        server = make_server("127.0.0.1", 0, live, threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        live.config["PUBLIC_URL"] = url  # links in e-mails point at this server
        live.extensions["mailman"].outbox = []  # the locmem backend appends here
        worker = InProcessWorker(live, poll_seconds=0.2)
        worker.start()
        thread = threading.Thread(target=server.serve_forever, name="zorgreserve-live-server", daemon=True)
        thread.start()
        yield LiveServer(url=url, app=live)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)
        if worker is not None:
            worker.stop()
        db.session.remove()
        engine.dispose()
        db._engine = previous_engine
        db.session.configure(bind=previous_engine)
        worker_jobs._app = previous_job_app


@pytest.fixture
def browser_page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser profile (no cookies) on the live server.

    The browser asks for English (Accept-Language) on purpose: Zorgreserve must
    still answer in Dutch until the visitor chooses otherwise.
    """
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
