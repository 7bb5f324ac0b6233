"""Packaging for avocado-rr."""

import os
import shutil

from setuptools import Extension, find_packages, setup
from setuptools.command.build_py import build_py


class BuildWithCatalogue(build_py):
    """Ship configs/assets.yaml, qemu.yaml and their locks inside the
    package, so an installed avocado-rr (not only a checkout) knows its
    assets and QEMU builds."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "avocado_rr", "data")
        os.makedirs(target, exist_ok=True)
        for name in ("assets.yaml", "assets.lock", "qemu.yaml", "qemu.lock"):
            shutil.copy(os.path.join("configs", name), target)


setup(
    name="avocado-rr",
    version="0.1.0",
    description="Record/replay test suite and Avocado harness plugin for QEMU",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="GPL-2.0-or-later",
    python_requires=">=3.11",
    packages=find_packages(include=["avocado_rr", "avocado_rr.*"]),
    include_package_data=True,
    cmdclass={"build_py": BuildWithCatalogue},
    ext_modules=[Extension("avocado_rr.replaylog._scan",
                           ["avocado_rr/replaylog/_scan.c"], optional=True)],
    package_data={"avocado_rr": ["data/*"],
                  "avocado_rr.guest": ["init.sh"]},
    install_requires=[
        # avocado 113.0 imports pkg_resources, which setuptools 82 removed
        "setuptools<81",
        "avocado-framework==113.0",
        "avocado-framework-plugin-varianter-yaml-to-mux==113.0",
        "pycdlib==1.22.0",
        "requests>=2.31,<3",
        # spelt with "-": pkg_resources (which loads avocado plugins) knows
        # the installed dist as qemu-qmp and fails on "qemu.qmp"
        "qemu-qmp==0.0.6",
        "PyYAML>=6.0",
        # GDB/MI for the reverse-debugging cases (what QEMU's own tests
        # use since 10.2)
        "pygdbmi==0.11.0.0",
        # the kallsyms table of Debian's kernels (their System.map is a
        # stub): breakpoints and watchpoints by symbol
        "vmlinux-to-elf==1.4.0",
    ],
    extras_require={"test": ["pytest>=8"]},
    entry_points={
        "console_scripts": [
            "avocado-rr = avocado_rr.cli:main",
            "avocado-runner-avocado-rr-instrumented = "
            "avocado_rr.plugins.runner:main",
        ],
        # groups as in avocado-framework 113.0's own entry_points.txt
        "avocado.plugins.init": [
            "replay_settings = avocado_rr.plugins.init:ReplayInit",
        ],
        "avocado.plugins.cli": [
            "replay_run = avocado_rr.plugins.cli:ReplayRunOptions",
        ],
        "avocado.plugins.cli.cmd": [
            "replay-dump = avocado_rr.plugins.cli:ReplayDump",
            "replay-assets = avocado_rr.plugins.cli:ReplayAssets",
            "replay-qemu = avocado_rr.plugins.cli:ReplayQemu",
        ],
        "avocado.plugins.job.prepost": [
            "replay_env = avocado_rr.plugins.jobprepost:ReplayJobPrePost",
            "replay_interrupt = avocado_rr.plugins.interrupt:ReplayInterrupt",
        ],
        "avocado.plugins.resolver": [
            "avocado-rr-instrumented = "
            "avocado_rr.plugins.resolver:ReplayTestResolver",
        ],
        "avocado.plugins.runnable.runner": [
            "avocado-rr-instrumented = "
            "avocado_rr.plugins.runner:ReplayTestRunner",
        ],
        "avocado.plugins.result": [
            "replay_summary = avocado_rr.plugins.summary:ReplaySummary",
        ],
    },
)
