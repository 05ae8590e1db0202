"""Alembic environment: the same configuration and models as the application."""

from __future__ import annotations

from alembic import context

from zorgreserve import db

config = context.config
app = config.attributes.get("flask_app")
if app is None:
    from zorgreserve import create_app

    app = create_app()

db.import_models()
target_metadata = db.Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=app.config["DATABASE_URL"],
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = db.make_engine(app.config["DATABASE_URL"])
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
