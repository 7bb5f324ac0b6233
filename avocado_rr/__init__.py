"""avocado-rr: record/replay testing for QEMU, as a library and Avocado plugins."""

from avocado_rr.errors import AvocadoRRError

__version__ = "0.1.0"
