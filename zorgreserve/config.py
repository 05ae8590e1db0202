"""Settings from the environment (12-factor), with embedded defaults.

Without any configuration Zorgreserve runs on a SQLite file and an in-process
queue inside the instance folder, so one command serves the whole product on a
bare machine. Production sets ``ZORGRESERVE_ENV=production`` and must then supply
its own secret key: a generated one would differ per process and per host.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "production", "test")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


#: Weights of the parts of a matching score (zorgreserve.matching.ranking reads them).
MATCHING_WEIGHTS = {
    "MATCHING_WEIGHT_RECENT_HOURS": 3.0,
    "MATCHING_WEIGHT_SINCE_LAST": 2.0,
    "MATCHING_WEIGHT_TRAVEL": 2.0,
    "MATCHING_WEIGHT_CONTINUITY": 2.0,
    "MATCHING_WEIGHT_OWN_REGION": 1.0,
}


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _secret_key(env: dict[str, str], instance_path: Path, environment: str) -> str:
    key = env.get("SECRET_KEY", "")
    if key:
        return key
    if environment == "production":
        raise ConfigError(
            "SECRET_KEY is not set. In production (ZORGRESERVE_ENV=production) Zorgreserve "
            "refuses to start without a secret key shared by all web processes and workers. "
            "Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Create with owner-only permissions before writing the secret into it.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_config(instance_path: str | Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask configuration mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    instance = Path(instance_path)
    environment = env.get("ZORGRESERVE_ENV", "development")
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"ZORGRESERVE_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    production = environment == "production"

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'zorgreserve.sqlite3'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    redis_url = env.get("REDIS_URL") or None

    mail_backend = env.get("MAIL_BACKEND", "console")
    sms_backend = env.get("SMS_BACKEND", "console")
    big_register = env.get("BIG_REGISTER") or "manual"
    if big_register not in ("manual", "fake", "cibg"):
        raise ConfigError(f"BIG_REGISTER must be manual, fake or cibg, got {big_register!r}")
    if production and big_register == "fake":
        raise ConfigError("BIG_REGISTER=fake is for tests and development, not for production")

    config: dict[str, Any] = {
        "ZORGRESERVE_ENV": environment,
        "TESTING": environment == "test",
        "SECRET_KEY": _secret_key(env, instance, environment),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_URL": env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Sessions: HttpOnly always, Secure whenever we are behind TLS in production.
        "SESSION_COOKIE_NAME": "zr_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": production,
        "PERMANENT_SESSION_LIFETIME": _int(env, "SESSION_LIFETIME_HOURS", 12) * 3600,
        "STAFF_IDLE_MINUTES": _int(env, "STAFF_IDLE_MINUTES", 30),
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # Forms: CSRF everywhere, Dutch built-in validator messages.
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_I18N_ENABLED": True,
        # Internationalisation.
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
        "LANGUAGES": ("nl", "en"),
        # Rate limits share Redis in production so several web processes see one count.
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        # Redis down: the same limits, counted in each process's memory until Redis answers again
        # (without this every rate-limited page, sign-in and the SMS webhooks included, failed).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "LOGIN_LIMIT_PER_ACCOUNT": env.get("LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"),
        "LOGIN_LIMIT_PER_ADDRESS": env.get("LOGIN_LIMIT_PER_ADDRESS", "50 per 15 minutes"),
        # Signed links.
        "EMAIL_VERIFY_MAX_AGE": _int(env, "EMAIL_VERIFY_MAX_AGE_HOURS", 48) * 3600,
        "PASSWORD_RESET_MAX_AGE": _int(env, "PASSWORD_RESET_MAX_AGE_MINUTES", 60) * 60,
        "INVITATION_MAX_AGE": _int(env, "INVITATION_MAX_AGE_DAYS", 7) * 86400,
        # Mail (Flask-Mailman backends: console, file, smtp, locmem).
        "MAIL_BACKEND": mail_backend,
        "MAIL_FILE_PATH": env.get("MAIL_FILE_PATH", str(instance / "mail")),
        "MAIL_SERVER": env.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": _int(env, "MAIL_PORT", 25),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "Zorgreserve <noreply@zorgreserve.local>"),
        # SMS (our own backend protocol: console, file, recorder).
        "SMS_BACKEND": sms_backend,
        "SMS_FILE_PATH": env.get("SMS_FILE_PATH", str(instance / "sms")),
        "SMS_SENDER": env.get("SMS_SENDER", "Zorgreserve"),
        # Vonage SMS API (SMS_BACKEND=vonage; docs/callups.md, "Provider set-up: Vonage").
        **_vonage(env, sms_backend),
        # Call-ups (docs/callups.md): inbound SMS webhook signature, provider rate, waves.
        "SMS_WEBHOOK_SECRET": env.get("SMS_WEBHOOK_SECRET") or None,
        "SMS_RATE_PER_SECOND": _int(env, "SMS_RATE_PER_SECOND", 0),
        "CALLUP_MIN_LEAD_MINUTES": _int(env, "CALLUP_MIN_LEAD_MINUTES", 120),
        "CALLUP_BATCH_SIZE": _int(env, "CALLUP_BATCH_SIZE", 200),
        # Job chains that send one wave side by side (one per worker process that should help).
        "CALLUP_SENDERS": _int(env, "CALLUP_SENDERS", 2),
        "CALLUP_CLAIM_STALE_SECONDS": _int(env, "CALLUP_CLAIM_STALE_SECONDS", 120),
        "CALLUP_MESSAGE_MAX_ATTEMPTS": _int(env, "CALLUP_MESSAGE_MAX_ATTEMPTS", 5),
        "CALLUP_FIRST_K": _int(env, "CALLUP_FIRST_K", 3),
        "CALLUP_MORE_K": _int(env, "CALLUP_MORE_K", 6),
        "CALLUP_FIRST_RADIUS_KM": _int(env, "CALLUP_FIRST_RADIUS_KM", 30),
        "CALLUP_RETRY_MINUTES": _int(env, "CALLUP_RETRY_MINUTES", 15),
        # Shifts (docs/shifts.md): a reservist cancels a booked shift up to this many hours before it.
        "SHIFT_CANCEL_MIN_HOURS": _int(env, "SHIFT_CANCEL_MIN_HOURS", 24),
        "SHIFT_HOURS_TOLERANCE_MINUTES": _int(env, "SHIFT_HOURS_TOLERANCE_MINUTES", 60),
        "SHIFT_CHECKIN_LIMIT": env.get("SHIFT_CHECKIN_LIMIT", "10 per 15 minutes"),
        # BIG-register lookups (docs/verification.md): manual (a coordinator checks), fake, cibg.
        # Uploaded evidence lives outside the web root; production points this at a
        # private volume that is backed up with the database.
        "EVIDENCE_DIR": env.get("EVIDENCE_DIR") or None,
        "EVIDENCE_MAX_BYTES": _int(env, "EVIDENCE_MAX_BYTES", 10 * 1024 * 1024),
        "BIG_REGISTER": big_register,
        "BIG_REGISTER_URL": env.get("BIG_REGISTER_URL", "https://api.bigregister.nl/zksrv/soap/4"),
        "BIG_REGISTER_TIMEOUT": _int(env, "BIG_REGISTER_TIMEOUT", 10),
        "BIG_REGISTER_GROUP_CODES": env.get("BIG_REGISTER_GROUP_CODES", ""),
        # Queue.
        "QUEUE_DEFAULT_TIMEOUT": _int(env, "QUEUE_DEFAULT_TIMEOUT", 300),
        "OUTBOX_STALE_SECONDS": _int(env, "OUTBOX_STALE_SECONDS", 120),
        "OUTBOX_SWEEP_INTERVAL": _int(env, "OUTBOX_SWEEP_INTERVAL", 30),
        "INPROCESS_WORKER": _bool(env.get("INPROCESS_WORKER"), True),
        # Deployment requests: working-time maximum per shift and sanity bounds.
        "MAX_SHIFT_HOURS": _int(env, "MAX_SHIFT_HOURS", 12),
        "MAX_SHIFTS_PER_REQUEST": _int(env, "MAX_SHIFTS_PER_REQUEST", 500),
        "MAX_PLACES_PER_SHIFT": _int(env, "MAX_PLACES_PER_SHIFT", 100),
        # Matching: weights of the score parts (docs/matching.md) and candidates per open place.
        **{key: _float(env, key, default) for key, default in MATCHING_WEIGHTS.items()},
        "CALLUP_CANDIDATES_PER_PLACE": _int(env, "CALLUP_CANDIDATES_PER_PLACE", 3),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "DEMO_PASSWORD": env.get("DEMO_PASSWORD", "zorgreserve-demo-2026"),
    }
    config.update(_worktime(env))
    return config


def _vonage(env: dict[str, str], sms_backend: str) -> dict[str, Any]:
    """The Vonage settings; with ``SMS_BACKEND=vonage`` a missing credential stops the start."""
    if sms_backend not in ("console", "file", "recorder", "vonage"):
        raise ConfigError(f"SMS_BACKEND must be console, file, recorder or vonage, got {sms_backend!r}")
    settings: dict[str, Any] = {
        "VONAGE_API_KEY": env.get("VONAGE_API_KEY") or None,
        "VONAGE_API_SECRET": env.get("VONAGE_API_SECRET") or None,
        "VONAGE_SIGNATURE_SECRET": env.get("VONAGE_SIGNATURE_SECRET") or None,
        "VONAGE_SIGNATURE_METHOD": env.get("VONAGE_SIGNATURE_METHOD") or "sha256",
        "VONAGE_API_HOST": env.get("VONAGE_API_HOST") or "rest.nexmo.com",
        "VONAGE_WEBHOOK_MAX_AGE_SECONDS": _int(env, "VONAGE_WEBHOOK_MAX_AGE_SECONDS", 300),
    }
    from zorgreserve.notifications.vonage import check_settings

    sender = env.get("SMS_SENDER", "Zorgreserve")
    check_settings(settings | {"SMS_SENDER": sender}, sending=sms_backend == "vonage")
    return settings


def _worktime(env: dict[str, str]) -> dict[str, Any]:
    """The working-time rule overrides (``WORKTIME_*``), checked now so a typo stops the start."""
    from zorgreserve.matching.worktime import CONFIG_KEYS, WorkTimeRules

    overrides = {key: env[key] for key in CONFIG_KEYS.values() if env.get(key)}
    WorkTimeRules.from_config(overrides)  # raises ConfigError naming the key
    return overrides
