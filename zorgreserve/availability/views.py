"""Pages of the availability module."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("availability", __name__, url_prefix="/me/availability")
