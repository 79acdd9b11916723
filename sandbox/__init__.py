"""Disposable Debian hosts (system containers) and offline images for trying and testing the deploy.

Driven as ``python -m sandbox up --hosts N | down | status | images``; see ``sandbox/__main__.py``.
"""
