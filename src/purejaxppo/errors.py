"""The one exception type for bad configuration and input: a line that names the fix."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration or input problem, described in one line that names the fix."""


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value of the wrong type."""
