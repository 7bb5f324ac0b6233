"""Harness-wide settings that reach the tests through the environment.

Avocado 113.0 does not pass plugin settings to avocado-instrumented
tests, so the ``[replay]`` settings section (registered by the Avocado
plugin) is exported to ``AVOCADO_RR_*`` environment variables before the
job starts, and tests read them here.  The same variables can be set by
hand.  Test parameters (``-p`` / yaml) still win over these.
"""

from __future__ import annotations

import os

#: setting name -> (environment variable, default)
SETTINGS = {
    "qemu_bin": ("AVOCADO_RR_QEMU_BIN", None),
    "qemu_build_dir": ("AVOCADO_RR_QEMU_BUILD_DIR", None),
    "icount_shift": ("AVOCADO_RR_ICOUNT_SHIFT", None),
    "stall_timeout": ("AVOCADO_RR_STALL_TIMEOUT", None),
    "keep_artifacts": ("AVOCADO_RR_KEEP_ARTIFACTS", "0"),
    "cache_dir": ("AVOCADO_RR_CACHE_DIR", None),
    "offline": ("AVOCADO_RR_OFFLINE", "0"),
}

_TRUE = ("1", "yes", "true", "on")


def get(name: str) -> str | None:
    """The value of setting ``name`` from the environment, or its default."""
    variable, default = SETTINGS[name]
    return os.environ.get(variable) or default


def get_bool(name: str) -> bool:
    return str(get(name) or "").lower() in _TRUE


def is_true(value) -> bool:
    """Interpret a parameter or setting value as a boolean."""
    return str(value).lower() in _TRUE
