"""The root of avocado-rr's exceptions.

This module imports nothing, so that any module (replaylog included,
which stays independent of Avocado and QEMU) can import it without cost
or cycles.
"""


class AvocadoRRError(Exception):
    """The root of every error avocado-rr raises on purpose.

    Catch it to handle all of the project's failures in one place; each
    module's own root (``AssetError``, ``ReplayLogError``, ...) derives
    from it.
    """


class Sha256Mismatch(AvocadoRRError):
    """Bytes whose sha256 is not the one expected."""

    def __init__(self, message: str, expected: str, actual: str):
        super().__init__(message)
        self.expected = expected
        self.actual = actual
