"""Alias of :mod:`avocado_rr.testing.linux`, the old name of the Linux
test layer: ``from avocado_rr.linux_test import ReplayLinuxTest`` keeps
working.  New code imports from :mod:`avocado_rr.testing.linux`."""

from avocado_rr.testing.linux import ReplayLinuxTest

__all__ = ["ReplayLinuxTest"]
