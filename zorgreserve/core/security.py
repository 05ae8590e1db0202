"""Security headers on every response, decided once here (no extension needed).

The policy allows only our own scripts, styles and images (no inline scripts or
styles), forbids framing, and keeps personal pages out of caches. Pages reached
by a secret link set ``g.referrer_policy = "no-referrer"`` so the token never
leaks to another site through the Referer header.
"""

from __future__ import annotations

from flask import Response, current_app, g
from flask_login import current_user

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def apply_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", g.get("referrer_policy", "same-origin"))
    headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["ZORGRESERVE_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    personal = g.get("no_store") or (current_user and current_user.is_authenticated)
    if personal:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response
