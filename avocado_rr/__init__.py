"""avocado-rr: record/replay testing for QEMU, as a library and Avocado plugins."""

__version__ = "0.1.0"
