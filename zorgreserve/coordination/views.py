"""Pages of the coordination module."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("coordination", __name__, url_prefix="/coordination")
