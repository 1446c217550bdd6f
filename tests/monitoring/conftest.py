"""Monitoring runs over a real served model: the serving fixtures, shared."""

from tests.serving.conftest import served, server  # noqa: F401
