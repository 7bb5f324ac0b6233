"""ReplayTestBase.param, the one reader of a test's parameters: its
precedence, its casts and its errors (real Avocado test objects, no QEMU)."""

from pathlib import Path

import pytest
from avocado.core import exceptions
from avocado.core.tree import TreeNode

from avocado_rr import devices, settings
from avocado_rr.testing import params
from avocado_rr.testing.kernel import ReplayKernelTest
from avocado_rr.testing.linux import ReplayLinuxTest


class Kernel(ReplayKernelTest):
    """:avocado: tags=arch:x86_64,machine:pc"""
    kernel = "kernel-x86_64"


class Aarch64(ReplayKernelTest):
    """:avocado: tags=arch:aarch64,machine:virt"""
    shift = 5
    cpu = "cortex-a57"


class Slow(Aarch64):
    stall_timeout = 20.0


class Linux(ReplayLinuxTest):
    """:avocado: tags=arch:x86_64,machine:q35"""
    cdrom_device = "scsi-cd"


TAGS = {Kernel: {"arch": {"x86_64"}, "machine": {"pc"}},
        Aarch64: {"arch": {"aarch64"}, "machine": {"virt"}},
        Slow: {"arch": {"aarch64"}, "machine": {"virt"}},
        Linux: {"arch": {"x86_64"}, "machine": {"q35"}}}


@pytest.fixture(autouse=True)
def no_settings(monkeypatch):
    for item in settings.SETTINGS:
        monkeypatch.delenv(item.variable, raising=False)


@pytest.fixture
def make(tmp_path):
    def make(klass, tags=None, **parameters):
        run = TreeNode("run", parameters, parent=TreeNode("", {}))
        # any method of the class: nothing runs
        return klass("setUp", params=([run], ["/run/*"]),
                     base_logdir=str(tmp_path),
                     tags=TAGS[klass] if tags is None else tags)
    return make


def test_arch_machine_cpu_parameter_then_attribute_then_tag(make):
    assert make(Kernel).param("arch") == "x86_64"                 # tag
    assert make(Aarch64).param("cpu") == "cortex-a57"             # attribute
    assert make(Aarch64, cpu="max").param("cpu") == "max"         # parameter
    assert make(Kernel).param("cpu") is None
    # a tag with two values names no arch
    assert make(Kernel, tags={"arch": {"x86_64", "i386"}}).param("arch") \
        is None


def test_a_setting_is_below_parameter_and_case_attribute(make, monkeypatch):
    assert make(Kernel).param("stall_timeout", float) == 5.0      # base
    monkeypatch.setenv("AVOCADO_RR_STALL_TIMEOUT", "7.5")
    assert make(Kernel).param("stall_timeout", float) == 7.5      # setting
    assert make(Slow).param("stall_timeout", float) == 20.0       # attribute
    assert make(Slow, stall_timeout="2").param(
        "stall_timeout", float) == 2.0                            # parameter


def test_the_base_classes_attributes_are_defaults(make):
    assert params.case_attribute(Kernel, "stall_timeout") is None
    assert params.case_attribute(Slow, "stall_timeout") == (Slow, 20.0)
    assert params.case_attribute(Slow, "shift") == (Aarch64, 5)
    assert make(Kernel).param("shift", int) == 7
    assert make(Linux).param("shift", int) == 5
    assert make(Kernel).param("debug_flags") is None
    assert make(Kernel).param("keep_artifacts", bool, default=False) is False


def test_icount_shift_parameter_setting_then_the_tests_shift(
        make, monkeypatch):
    assert make(Kernel).effective_shift() == 7
    assert make(Aarch64).effective_shift() == 5
    assert make(Aarch64, shift=3).effective_shift() == 3
    monkeypatch.setenv("AVOCADO_RR_ICOUNT_SHIFT", "6")
    assert make(Aarch64, shift=3).effective_shift() == 6
    assert make(Aarch64, icount_shift=8).effective_shift() == 8
    assert make(Linux, icount_shift="4").effective_shift() == 4


@pytest.mark.parametrize("text,expected", [
    ("1", True), ("yes", True), ("on", True), ("TRUE", True),
    ("0", False), ("no", False), ("off", False), ("", False)])
def test_booleans_follow_the_settings_rule(make, monkeypatch, text,
                                           expected):
    test = make(Kernel, keep_artifacts=text)
    assert test.param("keep_artifacts", bool, default=False) is expected
    monkeypatch.setenv("AVOCADO_RR_KEEP_ARTIFACTS", text or "0")
    assert make(Kernel).param("keep_artifacts", bool,
                              default=False) is expected


def test_yaml_values_keep_their_type(make):
    test = make(Kernel, icount_shift=5, stall_timeout=3,
                keep_artifacts=True, qemu_version=11.1)
    assert test.effective_shift() == 5
    assert test.param("stall_timeout", float) == 3.0
    assert test.param("keep_artifacts", bool) is True
    assert test.param("qemu_version", setting=False) == "11.1"


def test_qemu_settings_are_left_to_find_qemu(make, monkeypatch):
    monkeypatch.setenv("AVOCADO_RR_QEMU_BIN", "/opt/qemu-system-x86_64")
    assert make(Kernel).param("qemu_bin", setting=False) is None
    assert make(Kernel).param("qemu_bin") == "/opt/qemu-system-x86_64"
    assert make(Kernel, qemu_bin="/q").param("qemu_bin",
                                             setting=False) == "/q"


@pytest.mark.parametrize("klass,parameters,env,call,message", [
    (Kernel, {"icount_shift": "seven"}, {}, ("icount_shift", int),
     "bad value for icount_shift from the test parameter icount_shift "
     "(-p or a variant): 'seven' is not an integer"),
    (Kernel, {}, {"AVOCADO_RR_STALL_TIMEOUT": "soon"},
     ("stall_timeout", float),
     "bad value for stall_timeout from the setting "
     "AVOCADO_RR_STALL_TIMEOUT: 'soon' is not a number"),
    (Kernel, {}, {"AVOCADO_RR_KEEP_ARTIFACTS": "maybe"},
     ("keep_artifacts", bool), "from the setting AVOCADO_RR_KEEP_ARTIFACTS: "
     "'maybe' is not a boolean (use 1/yes/true/on or 0/no/false/off)"),
    (Kernel, {"shift": "5.5"}, {}, ("shift", int),
     "'5.5' is not an integer"),
    (Kernel, {"keep_artifacts": "2"}, {}, ("keep_artifacts", bool),
     "bad value for keep_artifacts from the test parameter "
     "keep_artifacts (-p or a variant): '2' is not a boolean"),
])
def test_a_bad_value_is_an_error_naming_name_origin_and_value(
        make, monkeypatch, klass, parameters, env, call, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    test = make(klass, **parameters)
    with pytest.raises(exceptions.TestError, match="^bad value for ") as error:
        test.param(*call)
    assert message in str(error.value)


def test_a_bad_class_attribute_names_its_class(make):
    class Odd(Kernel):
        shift = "fast"
    test = make(Kernel)
    test.__class__ = Odd
    with pytest.raises(exceptions.TestError, match=r"the class attribute "
                       r".*Odd\.shift: 'fast' is not an integer"):
        test.effective_shift()


class Plain:
    """Not an Avocado test: what params.read needs is params and tags."""
    tags = {"arch": {"x86_64"}}
    machine = "pc"

    class params:  # noqa: N801 (the attribute of an Avocado test)
        @staticmethod
        def get(key, default=None):
            return {"cpu": "max"}.get(key, default)


def test_the_reader_needs_no_avocado():
    assert params.read(Plain(), "cpu") == "max"
    assert params.read(Plain(), "machine") == "pc"
    assert params.read(Plain(), "arch") == "x86_64"
    assert [s.origin for s in params.sources(Plain(), "cpu")] == [
        "parameter"]


def test_linux_device_parameters_over_class_attributes(make):
    test = make(Linux, disk_interface="scsi")
    assert test.param("disk_interface") == "scsi"
    assert test.param("cdrom_device") == "scsi-cd"
    assert test.param("disk_format") == "qcow2"
    assert test.param("rrsnapshot") is None


def test_a_variant_for_another_cell_is_cancelled(make):
    make(Kernel, arch="x86_64")._cancel_foreign_variant()
    with pytest.raises(exceptions.TestCancel, match="is for arch:aarch64; this test "
                       "is arch:x86_64"):
        make(Kernel, arch="aarch64")._cancel_foreign_variant()
    with pytest.raises(exceptions.TestCancel, match="cpu:max; this test is "
                       "cpu:cortex-a57"):
        make(Aarch64, cpu="max")._cancel_foreign_variant()


@pytest.mark.parametrize("attribute,parameters,expected", [
    (None, {}, None), ("init", {}, "init"), (None, {"rrsnapshot": "s0"}, "s0"),
    ("init", {"rrsnapshot": ""}, None)])
def test_kernel_rrsnapshot_records_with_its_own_drive(
        make, tmp_path, attribute, parameters, expected):
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"kernel")

    class Snap(Kernel):
        rrsnapshot = attribute
    test = make(Snap, tags=TAGS[Kernel], **parameters)
    test.kernel = str(kernel)
    test.arch, test.machine, test.cpu = "x86_64", "pc", None
    spec = test.boot_spec()
    image = Path(test.outputdir) / "rrsnapshot.qcow2"
    assert spec.rrsnapshot == expected
    if expected is None:
        assert spec.extra_args == [] and not image.exists()
    else:
        assert spec.extra_args == devices.rrsnapshot_drive_args(str(image))
        assert image.exists()
