"""Pages of the reservists module."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reservists", __name__, url_prefix="/me")
