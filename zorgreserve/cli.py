"""The ``zorgreserve`` command line: run, db, worker, cron, reference, demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask

from zorgreserve.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _app() -> Flask:
    from zorgreserve import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def alembic_config(app: Flask):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["flask_app"] = app
    return config


@click.group(help="Zorgreserve: registry and call-up system for the Dutch national care reserve.")
def main() -> None:
    pass


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Serve the web application (with the in-process worker when REDIS_URL is not set)."""
    from werkzeug.serving import run_simple

    from zorgreserve.demo.services import demo_logins
    from zorgreserve.jobs.queue import InProcessWorker, is_embedded

    app = _app()
    app.config["SHOW_DEMO_LOGINS"] = True
    with app.app_context():
        logins = demo_logins()
        if is_embedded(app) and app.config["INPROCESS_WORKER"]:
            InProcessWorker(app).start()
            click.echo("Queue: in-process (no REDIS_URL); jobs run inside this server.")
    if logins:
        click.echo(f"\nDemo log-ins (password for all: {app.config['DEMO_PASSWORD']}):")
        for login in logins:
            extra = "  (+ TOTP: zorgreserve demo totp)" if login["totp"] else ""
            click.echo(f"  {login['role']:<24} {login['email']}{extra}")
    click.echo(f"\nZorgreserve runs on http://{host}:{port}\n")
    from zorgreserve.app import freeze_startup_objects

    freeze_startup_objects()
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    app = _app()
    command.upgrade(alembic_config(app), revision)
    click.echo(f"Database at {revision}.")


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from alembic import command

    command.downgrade(alembic_config(_app()), revision)


@db.command()
def current() -> None:
    """Show the current revision."""
    from alembic import command

    command.current(alembic_config(_app()), verbose=False)


@db.command()
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """Autogenerate a new revision from the models (review it by hand before committing)."""
    from datetime import date

    from alembic import command

    command.revision(
        alembic_config(_app()),
        message=message,
        autogenerate=True,
        rev_id=date.today().strftime("%Y%m%d") + "_" + message.lower().replace(" ", "_")[:30],
    )


@main.command()
@click.option("--burst", is_flag=True, help="Run the jobs that are queued now, then stop.")
@click.option("--queue", "queues", multiple=True, help="Queue names (default: all).")
def worker(burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker (with RQ's scheduler) on REDIS_URL. Start as many as needed."""
    from worker.main import run_worker
    from zorgreserve.jobs.queue import QUEUE_NAMES, is_embedded

    app = _app()
    if is_embedded(app):
        raise click.ClickException(
            "REDIS_URL is not set. Without Redis the queue runs inside `zorgreserve run`; "
            "set REDIS_URL to run separate workers."
        )
    from zorgreserve.app import freeze_startup_objects

    freeze_startup_objects()  # before RQ forks a work horse per job
    run_worker(app, queues or QUEUE_NAMES, burst=burst)


@main.command()
def cron() -> None:
    """Run the periodic jobs (outbox sweep, heartbeat) with RQ's CronScheduler. Run exactly one."""
    from worker.main import run_cron
    from zorgreserve.jobs.queue import is_embedded

    app = _app()
    if is_embedded(app):
        raise click.ClickException("REDIS_URL is not set; `zorgreserve run` runs the periodic jobs itself.")
    run_cron(app)


@main.group()
def reference() -> None:
    """Reference data (regions, postcodes, professions, qualifications, skills, phases)."""


@reference.command("load")
def reference_load() -> None:
    """Load or update the shipped reference data; safe to run again."""
    from zorgreserve.db import transaction
    from zorgreserve.reference.loader import load_all

    app = _app()
    with app.app_context(), transaction() as session:
        counts = load_all(session)
    for name, count in counts.items():
        click.echo(f"{name:<24} {count}")


class BenchmarkGroup(click.Group):
    """``zorgreserve bench NAME``: every module in ``zorgreserve/bench/`` with a ``command``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        import pkgutil

        import zorgreserve.bench

        return sorted(m.name for m in pkgutil.iter_modules(zorgreserve.bench.__path__))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        import importlib

        if cmd_name not in self.list_commands(ctx):
            return None
        return importlib.import_module(f"zorgreserve.bench.{cmd_name}").command


@main.group(cls=BenchmarkGroup)
def bench() -> None:
    """Benchmarks against the database in DATABASE_URL (PostgreSQL for the targets)."""


@main.group()
def demo() -> None:
    """Demo data for trying the product."""


@demo.command("load")
@click.option("--reservists", default=300, show_default=True)
@click.option("--seed", default=2026, show_default=True)
def demo_load(reservists: int, seed: int) -> None:
    """Create demo institutions, reservists and one account per role; safe to run again."""
    from zorgreserve.db import transaction
    from zorgreserve.demo.services import load_demo

    app = _app()
    with app.app_context(), transaction():
        created = load_demo(reservists=reservists, seed=seed, password=app.config["DEMO_PASSWORD"])
    click.echo("Demo data: " + (f"{created} records created." if created else "already present."))


@demo.command("totp")
@click.argument("account", type=click.Choice(["admin", "landelijk", "regio"]))
def demo_totp(account: str) -> None:
    """Print the current second-factor code of a demo coordinator or administrator."""
    from zorgreserve.demo.services import current_totp

    click.echo(current_totp(account))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
