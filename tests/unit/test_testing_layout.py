"""The Avocado layer lives in avocado_rr.testing, and no library module
is named like a test (tools and pytest would take it for one)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "avocado_rr"
#: what pytest, Avocado and editors take for a test module
TEST_NAME = re.compile(r"(^test(_|$))|(_test$)")


def test_no_library_module_is_named_like_a_test():
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        for part in parts:
            assert not TEST_NAME.search(part), ".".join(parts)


def test_the_test_name_rule_catches_packages_and_modules():
    named_like_tests = ["test", "test_x", "linux_test"]
    fine = ["testing", "latest", "contest", "testsuite_data"]
    assert all(TEST_NAME.search(name) for name in named_like_tests)
    assert not any(TEST_NAME.search(name) for name in fine)


def test_unit_and_functional_test_modules_have_distinct_names():
    """pytest imports both directories' modules by basename (no
    __init__.py): one name in both stops 'make check' at collection."""
    root = Path(__file__).resolve().parents[1]
    unit = {path.name for path in (root / "unit").glob("test_*.py")}
    functional = {path.name for path in
                  (root / "functional").glob("test_*.py")}
    assert not unit & functional
