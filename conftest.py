"""Shared fixtures for the core's and every plugin's tests (see dlm_core.testing)."""

pytest_plugins = ["dlm_core.testing"]
