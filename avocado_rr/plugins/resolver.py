"""Resolves avocado-rr's tests to the ``avocado-rr-instrumented`` kind.

A test class that derives from one of avocado-rr's test classes is found
exactly as Avocado's avocado-instrumented resolver finds it (same
methods, tags and dependencies, by reading the source, not importing
it), but gets the kind of :mod:`.runner`.  Other Avocado tests in the
same file keep the avocado-instrumented kind; a file without avocado-rr
tests is left to Avocado's resolvers.
"""

from __future__ import annotations

import ast
import re

from avocado.core.extension_manager import PluginPriority
from avocado.core.nrunner.runnable import Runnable
from avocado.core.plugin_interfaces import Resolver
from avocado.core.references import reference_split
from avocado.core.resolver import (ReferenceResolution,
                                   ReferenceResolutionResult, check_file,
                                   get_file_assets)
from avocado.core.safeloader import find_avocado_tests

from avocado_rr.plugins.runner import KIND

PACKAGE = "avocado_rr"


def _from_package(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _root_name(node: ast.expr) -> str | None:
    """``a`` of a base class written ``a``, ``a.b`` or ``a.b.c``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def replay_test_classes(path: str) -> set[str]:
    """Names of the classes in ``path`` that derive from avocado-rr's.

    A class is one if a base is a name imported from avocado_rr (or an
    attribute of such a name), or a class of the file that is one.
    Whether it is a test at all is for Avocado's safeloader to say.
    """
    try:
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read(), path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 \
                and node.module and _from_package(node.module):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.asname or alias.name.split(".")[0]
                         for alias in node.names
                         if _from_package(alias.name))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                _root_name(base) in names | found for base in node.bases):
            found.add(node.name)
    return found


class ReplayTestResolver(Resolver):

    name = KIND
    description = "Test resolver for avocado-rr's avocado-instrumented tests"
    # ahead of avocado-instrumented (HIGH), which would take them all
    priority = PluginPriority.VERY_HIGH

    def resolve(self, reference: str) -> ReferenceResolution:
        module_path, tests_filter = reference_split(reference)
        criteria_check = check_file(module_path, reference)
        if criteria_check is not True:
            return criteria_check
        ours = replay_test_classes(module_path)
        if not ours:
            return ReferenceResolution(reference,
                                       ReferenceResolutionResult.NOTFOUND)
        selected = re.compile(tests_filter) if tests_filter else None
        classes, _ = find_avocado_tests(module_path)
        assets = get_file_assets(module_path)
        runnables = []
        for klass, methods in classes.items():
            for method, tags, dependencies in methods:
                klass_method = f"{klass}.{method}"
                if selected is not None and not selected.search(klass_method):
                    continue
                runnables.append(Runnable(
                    KIND if klass in ours else "avocado-instrumented",
                    uri=f"{module_path}:{klass_method}", tags=tags,
                    dependencies=dependencies,
                    assets=list(assets)))
        if not runnables:
            return ReferenceResolution(reference,
                                       ReferenceResolutionResult.NOTFOUND)
        return ReferenceResolution(reference,
                                   ReferenceResolutionResult.SUCCESS,
                                   runnables)
