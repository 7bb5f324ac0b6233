# avocado-rr: record/replay tests for QEMU.
#
#   make check            the project's own tests (unit + real record/replay)
#   make check-avocado    the record/replay cases (kernel, Linux, firmware,
#                         bare metal) and one reverse-debugging case
#                         through avocado run
#   make check-matrix     the suite and every reverse-debugging case on
#                         several QEMU versions in one job, with a case x
#                         version table at the end
#   make bench-parallel   check-avocado's speed-up from parallel tasks
#   make check-soak       'make check' CHECK_RUNS times (5) from a clean
#                         clone: each test's failures over the runs
#   make check-reverse    reverse debugging (stepi, reverse-stepi...) under
#                         gdb over a replay, every arch
#   make check-gitlab     .gitlab-ci.yml's check-unit and one check-avocado
#                         cell, run as GitLab runs them (gitlab-ci-local)
#
# Each target sets up what it needs: the venv, Debian's QEMU emulators
# (apt-get when root, otherwise the exact command is printed) and the
# kernel assets (Debian packages, fetched into the asset cache).
#
# Variables:
#   AVOCADO_TAGS="arch:x86_64 machine:virt"  select tests (space = OR,
#                                            comma = AND, as in QEMU)
#   AVOCADO_TESTS=tests/avocado/replay_kernel.py    (default: the kernel,
#                                            Linux, firmware and bare-metal
#                                            cases and REVERSE_CHECK; every
#                                            reverse-debugging case runs
#                                            with check-reverse and
#                                            check-matrix)
#   REVERSE_CHECK=...                        the reverse-debugging cases
#                                            check-avocado runs (aarch64
#                                            virt; empty: none)
#   QEMU_BIN=/path/to/qemu-system-x86_64    the QEMU under test
#   QEMU_BUILD_DIR=/path/to/qemu/build       a QEMU build tree
#   QEMU_VERSION=11.1                        Debian's build of a QEMU
#                                            version (7.2, 10.0, 11.1),
#                                            fetched into the asset cache
#   QEMU_VERSIONS="7.2 10.0 11.1"            the versions of check-matrix
#   AVOCADO_PARALLEL=N                       tests run at once (nproc)
#   AVOCADO_ARGS="-m configs/smoke.yaml"     more 'avocado run' options
#   (--replay-icount-shift N, --xunit FILE, --mux-filter-only PATH...)
#   AVOCADO_RR_CACHE_DIR=...                 asset cache
#                                            ($XDG_CACHE_HOME/avocado-rr)

PYTHON ?= python3
VENV ?= build/venv
VENV_PY := $(VENV)/bin/python
RESULTS_DIR ?= build/results
# the record/replay cases, and reverse debugging: 3-6 minutes a case
# (3000 gdb steps, a reverse-stepi loads a snapshot): check-avocado runs
# one of them (the 8-minute budget), check-matrix and check-reverse all
RR_TESTS ?= tests/avocado/replay_kernel.py \
	tests/avocado/replay_linux.py tests/avocado/replay_firmware.py \
	tests/avocado/replay_baremetal.py
REVERSE_TESTS ?= tests/avocado/reverse_debugging.py
REVERSE_CHECK ?= tests/avocado/reverse_debugging.py:Aarch64Virt
# AVOCADO_TESTS given (make check-matrix AVOCADO_TESTS=...): the matrix
# runs those
# (the reverse case first: the longest, it runs beside all the others
# instead of alone at the end)
ifeq ($(origin AVOCADO_TESTS),undefined)
AVOCADO_TESTS := $(REVERSE_CHECK) $(RR_TESTS)
MATRIX_TESTS ?= $(REVERSE_TESTS) $(RR_TESTS)
else
MATRIX_TESTS ?= $(AVOCADO_TESTS)
endif
AVOCADO_SHOW ?= app
AVOCADO_PARALLEL ?= $(shell nproc)
PYTEST_ARGS ?=
AVOCADO_ARGS ?=

# Debian packages that provide what the suite runs, and the commands
# checked for: the emulators of the arches the suite boots come from the
# target table (avocado_rr/targets.py), the cross binutils of the
# bare-metal guests from theirs (avocado_rr/baremetal.py), both read with
# the system's Python
TARGETS_CMD = $(PYTHON) -E -S -m avocado_rr.targets
BAREMETAL_CMD = $(PYTHON) -E -S -m avocado_rr.baremetal
APT_PACKAGES = $(shell $(TARGETS_CMD) emulator-packages) \
	$(shell $(BAREMETAL_CMD) packages) qemu-utils cpio genisoimage \
	gdb-multiarch
QEMU_PROBES = $(shell $(TARGETS_CMD) binaries) \
	$(shell $(BAREMETAL_CMD) tools) qemu-img cpio isoinfo gdb-multiarch

ifdef QEMU_BIN
export AVOCADO_RR_QEMU_BIN := $(abspath $(QEMU_BIN))
endif
ifdef QEMU_BUILD_DIR
export AVOCADO_RR_QEMU_BUILD_DIR := $(abspath $(QEMU_BUILD_DIR))
endif

ifdef QEMU_VERSION
export AVOCADO_RR_QEMU_VERSION := $(QEMU_VERSION)
endif
QEMU_VERSIONS ?= 7.2 10.0 11.1
MATRIX_YAML := build/qemu-versions.yaml

ifdef AVOCADO_TAGS
AVOCADO_TAG_ARGS := $(addprefix -t ,$(AVOCADO_TAGS))
ASSET_TAG_ARGS := $(addprefix --tags ,$(AVOCADO_TAGS))
else
AVOCADO_TAG_ARGS :=
ASSET_TAG_ARGS :=
endif

# the tests import avocado_rr from the checkout: Avocado's static
# resolver only finds base classes in real sys.path directories
RUN := PYTHONPATH=$(CURDIR) $(VENV)/bin

.PHONY: all venv qemu assets qemu-builds check check-unit check-avocado \
	check-matrix bench bench-parallel clean help

all: help

help:
	@sed -n '2,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

$(VENV)/.stamp: setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -q --upgrade "pip>=23" wheel
	$(VENV_PY) -m pip install -q -e '.[test]' \
	    --config-settings editable_mode=compat
	touch $@

venv: $(VENV)/.stamp

qemu:
	@missing=""; for p in $(QEMU_PROBES); do \
	    command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "missing:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then \
	        apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $(APT_PACKAGES); \
	    else \
	        echo "run as root: apt-get install $(APT_PACKAGES)"; exit 1; \
	    fi; \
	fi

assets: venv
	$(RUN)/avocado-rr assets fetch $(ASSET_TAG_ARGS)

# Debian's QEMU builds the run names (none: the system's QEMU)
qemu-builds: venv
ifdef QEMU_VERSION
	$(RUN)/avocado-rr qemu fetch $(QEMU_VERSION)
endif

check-unit: venv qemu
	$(RUN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

check: venv qemu assets
	$(RUN)/python -m pytest -q tests/unit tests/functional $(PYTEST_ARGS)

check-avocado: venv qemu assets qemu-builds
	mkdir -p $(RESULTS_DIR)
	$(RUN)/avocado --show=$(AVOCADO_SHOW) run \
	    --job-results-dir=$(RESULTS_DIR) --disable-sysinfo \
	    --max-parallel-tasks=$(AVOCADO_PARALLEL) \
	    $(AVOCADO_TAG_ARGS) $(AVOCADO_ARGS) -- $(AVOCADO_TESTS)

# reverse debugging under gdb-multiarch over a replay, every arch
check-reverse: venv qemu assets qemu-builds
	$(MAKE) check-avocado AVOCADO_TESTS="$(REVERSE_TESTS)"

# one job, every test once per QEMU version (a yaml-to-mux variant each)
check-matrix: venv qemu assets
	$(RUN)/avocado-rr qemu fetch $(QEMU_VERSIONS)
	mkdir -p $(RESULTS_DIR) build
	$(RUN)/python -m avocado_rr.matrix variants $(QEMU_VERSIONS) \
	    > $(MATRIX_YAML)
	$(RUN)/avocado --show=$(AVOCADO_SHOW) run \
	    --job-results-dir=$(RESULTS_DIR) --disable-sysinfo \
	    --max-parallel-tasks=$(AVOCADO_PARALLEL) -m $(MATRIX_YAML) \
	    $(AVOCADO_TAG_ARGS) $(AVOCADO_ARGS) -- $(MATRIX_TESTS)

bench: venv qemu assets
	$(RUN)/python benchmarks/bench_harness.py

# wall time of the same check-avocado selection with 1 and 2 parallel tasks
bench-parallel: venv qemu assets
	$(RUN)/python benchmarks/bench_parallel.py $(AVOCADO_TAG_ARGS)

clean:
	rm -rf build

# GitLab's jobs on this machine (.ci/gitlab-local JOB... runs others)
.PHONY: check-gitlab
check-gitlab:
	.ci/gitlab-local

# flakiness of the project's own tests: 'make check' in a clean clone of
# HEAD, CHECK_RUNS times, half of the runs started with SIGINT ignored
CHECK_RUNS ?= 5
.PHONY: check-soak
check-soak: venv
	$(RUN)/python benchmarks/check_soak.py --runs $(CHECK_RUNS)

# flake rates: every kernel case 20 times and X86_64Pc 50 times (hours);
# SOAK_ARGS picks cases ("tests/avocado/replay_kernel.py:X86_64Pc=20"),
# SOAK_VERSIONS="7.2 10.0" runs them on each QEMU version, the versions
# taking turns each round; SOAK_ARGS="--minutes 120" is a time budget
.PHONY: soak
soak: venv qemu assets
	$(if $(SOAK_VERSIONS),$(RUN)/avocado-rr qemu fetch $(SOAK_VERSIONS))
	$(RUN)/python benchmarks/soak.py $(SOAK_ARGS) \
	    $(if $(SOAK_VERSIONS),--versions $(SOAK_VERSIONS))
