"""Alias of :mod:`avocado_rr.testing.kernel` (and ``KnownFailure``), the
old name of the kernel test layer: ``from avocado_rr.test import
ReplayKernelTest, KnownFailure`` keeps working.  New code imports from
:mod:`avocado_rr.testing`'s modules."""

from avocado_rr.testing.kernel import (CONSOLES, ReplayKernelTest,
                                       ReplayTestBase)
from avocado_rr.testing.known_failure import KnownFailure

__all__ = ["CONSOLES", "KnownFailure", "ReplayKernelTest", "ReplayTestBase"]
