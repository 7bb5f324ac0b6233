"""One reader of a record/replay test's parameters.

A test reads each of its knobs (``icount_shift``, ``stall_timeout``,
``arch``, ``disk_interface``...) through
:meth:`avocado_rr.testing.kernel.ReplayTestBase.param`, which takes the
first of, in this order:

1. the test parameter (``-p name=value``, a yaml-to-mux variant);
2. the attribute of that name that the test's class sets (the values
   avocado-rr's base classes give are the defaults, step 5);
3. the unique value of the test's ``arch:``/``machine:``/``cpu:`` tag;
4. the harness setting of that name (:mod:`avocado_rr.settings`: the
   ``[replay]`` section, exported as ``AVOCADO_RR_*``);
5. the default: the caller's, else the base classes' attribute;

and casts it to the type asked for (``bool`` by the project's one rule,
:func:`avocado_rr.settings.parse_bool`).  A value that is not of that
type is a :class:`ParamError` naming the parameter, where the value came
from and the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from avocado_rr import settings
from avocado_rr.errors import AvocadoRRError

#: the module of avocado-rr's test base classes: their attributes are the
#: defaults, not a test case's choice
BASE_PACKAGE = "avocado_rr.testing"
#: the parameters a test's tags can give
TAG_KEYS = ("arch", "machine", "cpu")


class ParamError(AvocadoRRError, ValueError):
    """A test parameter whose value is not of the parameter's type."""

    def __init__(self, name: str, source: "Source", problem: str):
        super().__init__(f"bad value for {name} from {source.where}: "
                         f"{problem}")
        self.name = name
        self.source = source


class Source(NamedTuple):
    """Where a parameter's value comes from, and the value as found."""

    #: "parameter", "attribute", "tag" or "setting"
    origin: str
    raw: Any
    #: the place in words, e.g. "the setting AVOCADO_RR_STALL_TIMEOUT"
    where: str


def _is_base(klass: type) -> bool:
    return klass.__module__.startswith(BASE_PACKAGE + ".")


def case_attribute(klass: type, name: str) -> tuple[type, Any] | None:
    """``(class, value)`` of attribute ``name`` as the test case sets it,
    None when it sets none (or None); the base classes are not read."""
    for owner in klass.__mro__:
        if _is_base(owner) or owner is object:
            return None
        value = vars(owner).get(name)
        if value is not None:
            return owner, value
    return None


def tag_value(tags: dict | None, key: str) -> str | None:
    """The value of tag ``key`` when the test has exactly one."""
    values = (tags or {}).get(key) or set()
    return next(iter(values)) if len(values) == 1 else None


def sources(test, name: str, setting: bool = True) -> Iterator[Source]:
    """Every place that gives ``name`` a value for ``test``, the one that
    wins first (see the module's documentation).

    :param setting: also the harness setting ``name`` (when there is one)
    """
    raw = test.params.get(name, default=None)
    if raw is not None:
        yield Source("parameter", raw,
                     f"the test parameter {name} (-p or a variant)")
    found = case_attribute(type(test), name)
    if found is not None:
        owner, raw = found
        yield Source("attribute", raw,
                     f"the class attribute {owner.__qualname__}.{name}")
    if name in TAG_KEYS:
        raw = tag_value(test.tags, name)
        if raw is not None:
            yield Source("tag", raw, f"the tag {name}:{raw}")
    if setting and settings.is_setting(name):
        raw = settings.get(name)
        if raw is not None:
            variable = settings.setting(name).variable
            yield Source("setting", raw, f"the setting {variable}")


def read(test, name: str, kind: type = str, default: Any = None,
         setting: bool = True) -> Any:
    """The value of parameter ``name`` for ``test``, as a ``kind``.

    :param default: when nothing gives ``name`` a value; None: the
        attribute of the base classes, else None
    :param setting: also read the harness setting ``name``; False where
        another reader applies the setting with rules of its own (the
        ``AVOCADO_RR_QEMU_*`` variables: :func:`avocado_rr.qemu_binary.
        find_qemu`)
    :raises ParamError: when the value that wins is not a ``kind``.
    """
    for source in sources(test, name, setting):
        try:
            return settings.cast(source.raw, kind)
        except ValueError as exc:
            raise ParamError(name, source, str(exc)) from None
    if default is not None:
        return default
    base = getattr(type(test), name, None)
    return None if callable(base) else base
