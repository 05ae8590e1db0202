"""Zorgreserve: registry and call-up system for the Dutch national care reserve."""

from zorgreserve.app import create_app

__all__ = ["create_app"]
