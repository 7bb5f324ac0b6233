"""Every exception avocado-rr defines derives from AvocadoRRError.

So a caller can catch the project's failures in one place: the test walks
every module of the package and fails on a new exception class that
derives from ``Exception`` (or ``ValueError``, ...) alone.
"""

import importlib
import inspect
import pkgutil

import pytest

import avocado_rr
from avocado_rr.errors import AvocadoRRError


def _modules():
    for info in pkgutil.walk_packages(avocado_rr.__path__, "avocado_rr."):
        # ``python -m`` entry points run their command when imported
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        yield info.name


def _exceptions():
    """(qualified name, class) of every exception defined in avocado_rr."""
    found = {}
    for name in _modules():
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == name):
                found[f"{name}.{obj.__qualname__}"] = obj
    return found


EXCEPTIONS = _exceptions()


def test_the_walk_finds_the_known_roots():
    names = {cls.__name__ for cls in EXCEPTIONS.values()}
    assert {"MachineError", "RecordFailed", "OtherQemu", "AssetError",
            "AptError", "QemuNotFound", "QemuBuildError", "DeviceError",
            "CidataError", "CpioError", "InitramfsError", "DownloadError",
            "ReplayLogError"} <= names


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_exception_derives_from_avocado_rr_error(name):
    assert issubclass(EXCEPTIONS[name], AvocadoRRError), (
        f"{name} should derive from avocado_rr.errors.AvocadoRRError")


def test_value_errors_stay_value_errors():
    """Callers (and tests) catch these as ValueError: the root is added."""
    from avocado_rr import devices
    from avocado_rr.guest import cidata, cpio
    for cls in (devices.DeviceError, cidata.CidataError, cpio.CpioError):
        assert issubclass(cls, ValueError)


def test_errors_module_imports_nothing():
    """Any module, replaylog included, may import it without a cycle."""
    import ast
    tree = ast.parse(inspect.getsource(importlib.import_module(
        "avocado_rr.errors")))
    assert not [node for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))]
