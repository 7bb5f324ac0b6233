"""The Avocado layer of avocado-rr: base classes for record/replay tests.

* :mod:`avocado_rr.testing.kernel`: ``ReplayKernelTest`` (and the shared
  ``ReplayTestBase``): record a kernel boot, replay it, judge it;
* :mod:`avocado_rr.testing.linux`: ``ReplayLinuxTest``: full boots to
  userspace with disks, network and a config ISO;
* :mod:`avocado_rr.testing.known_failure`: ``KnownFailure``, a QEMU bug a
  test declares and keeps running.

Test files import the classes from these modules (Avocado's static test
finder reads the module that defines a base class).
"""
