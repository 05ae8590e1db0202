"""Pages of the verification module."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("verification", __name__, url_prefix="/verification")
