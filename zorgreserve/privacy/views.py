"""Pages of the privacy module."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/me/data")
