"""The guest side of full Linux boots: initramfs, /init and config ISO.

* :mod:`avocado_rr.guest.cpio`: deterministic cpio newc writer
* :mod:`avocado_rr.guest.initramfs`: busybox initramfs for a Debian kernel
* :mod:`avocado_rr.guest.cidata`: cloud-init NoCloud ISO with pycdlib
* :mod:`avocado_rr.guest.markers`: the markers the guest prints
* :mod:`avocado_rr.guest.linux`: ``LinuxGuest``, the whole full-boot guest
  (inputs, device arguments, workload checks) for any caller
* ``init.sh``: the guest ``/init`` (package data)
"""
