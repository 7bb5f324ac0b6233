"""configs/*.yaml variant files and .gitlab-ci.yml, checked against the
suite, the Makefile and the commands they name."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
AVOCADO = [sys.executable, "-m", "avocado"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))
#: the kernel cases, which configs/matrix.yaml and smoke.yaml name
SUITE = "tests/avocado/replay_kernel.py"
#: the suites whose cases GitLab's arch groups cover (the Linux cases
#: share the kernel cases' arches)
CI_SUITES = (SUITE, "tests/avocado/replay_firmware.py",
             "tests/avocado/replay_baremetal.py")
#: the reverse-debugging cases, which GitLab's reverse group runs
REVERSE = "tests/avocado/reverse_debugging.py"


def avocado(*args):
    res = subprocess.run(AVOCADO + list(args), capture_output=True,
                         text=True, cwd=ROOT, env=ENV, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def variants(path, tmp_path):
    """(variant id, {param: value}) of a mux file, as avocado sees it."""
    dump = tmp_path / "variants.json"
    avocado("variants", "-m", str(path), "--json-variants-dump", str(dump))
    result = []
    for variant in json.loads(dump.read_text()):
        params = {}
        for _path, values in variant["variant"]:
            params.update({key: value for _node, key, value in values})
        result.append((variant["variant_id"], params))
    return result


def suite_cases(suites=(SUITE,)):
    """{class name: {tag key: value}} of the replay suites."""
    cases = {}
    for line in avocado("-V", "list", *suites).splitlines():
        match = re.match(r"avocado-rr-instrumented\s+\S+:(\w+)\.", line)
        if not match:
            continue
        name = match.group(1)
        cases[name] = dict(re.findall(r"(\w+)\(([^)]+)\)", line))
    return cases


def matches(params, tags):
    return all(str(params[key]) == tags.get(key) for key in
               ("arch", "machine", "cpu") if key in params)


def test_matrix_has_one_variant_per_case(tmp_path):
    cases = suite_cases()
    cells = variants(ROOT / "configs" / "matrix.yaml", tmp_path)
    assert len(cases) >= 10
    for variant_id, params in cells:
        owners = [name for name, tags in cases.items()
                  if matches(params, tags)]
        assert len(owners) == 1, (variant_id, params, owners)
        assert params["arch"] in variant_id
    covered = {name for name, tags in cases.items()
               if any(matches(params, tags) for _, params in cells)}
    assert covered == set(cases)


def test_smoke_variants_name_existing_cases(tmp_path):
    cases = suite_cases()
    cells = variants(ROOT / "configs" / "smoke.yaml", tmp_path)
    assert 1 <= len(cells) < len(cases)
    for variant_id, params in cells:
        assert sum(matches(params, tags) for tags in cases.values()) == 1, \
            (variant_id, params)


def test_icount_sweep_varies_only_the_shift(tmp_path):
    cells = variants(ROOT / "configs" / "icount-sweep.yaml", tmp_path)
    shifts = [params["icount_shift"] for _, params in cells]
    assert len(set(shifts)) == len(shifts) >= 3
    assert all(isinstance(shift, int) and 0 <= shift <= 10
               for shift in shifts)
    assert all(set(params) == {"icount_shift"} for _, params in cells)


# -- .gitlab-ci.yml -------------------------------------------------------

def ci_jobs():
    doc = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    jobs = {}
    for name, job in doc.items():
        if name.startswith(".") or not isinstance(job, dict) \
                or name in ("variables", "stages", "include", "default"):
            continue
        merged = {}
        for parent in ([job["extends"]] if isinstance(job.get("extends"), str)
                       else job.get("extends", [])):
            merged.update(doc[parent])
        merged.update(job)
        jobs[name] = merged
    return doc, jobs


def makefile_targets_and_variables():
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w.-]+):(?!=)", text, re.M))
    variables = set(re.findall(r"\$\((\w+)\)", text)) | \
        set(re.findall(r"^(?:ifdef\s+)?(\w+)\s*(?:\?=|:=|=)?", text, re.M))
    return targets, variables


def commands(line):
    """The simple commands of a shell line (skips if/then/fi/!)."""
    for part in re.split(r";|&&|\|\||\|", line):
        words = shlex.split(part.strip())
        while words and (words[0] in ("if", "then", "else", "!", "fi",
                                      "export")
                         or re.match(r"^\w+=", words[0])):
            words.pop(0)
        if words:
            yield words


def test_ci_runs_one_job_per_arch_group_covering_the_suite():
    _doc, jobs = ci_jobs()
    matrix = jobs["check-avocado"]["parallel"]["matrix"]
    groups = [set(cell["AVOCADO_TAGS"].split()) for cell in matrix
              if "AVOCADO_TESTS" not in cell]
    tagged = {"arch:" + tags["arch"]
              for tags in suite_cases(CI_SUITES).values()}
    assert set().union(*groups) == tagged
    assert sum(len(group) for group in groups) == len(tagged)   # disjoint
    names = [cell["ARCH_GROUP"] for cell in matrix]
    assert len(set(names)) == len(names)


def test_ci_runs_every_reverse_case_once():
    """The reverse group runs every reverse-debugging case but those
    check-avocado itself runs (REVERSE_CHECK), which the arch groups do."""
    _doc, jobs = ci_jobs()
    matrix = jobs["check-avocado"]["parallel"]["matrix"]
    reverse = [cell for cell in matrix if "AVOCADO_TESTS" in cell]
    assert [cell["AVOCADO_TESTS"] for cell in reverse] == [REVERSE]
    cases = suite_cases((REVERSE,))
    in_group = {name for name, tags in cases.items()
                if "arch:" + tags["arch"] in reverse[0]["AVOCADO_TAGS"].split()}
    check = re.search(r"^REVERSE_CHECK \?= (.*)$",
                      (ROOT / "Makefile").read_text(), re.M)[1].split()
    arch_groups = set().union(*(cell["AVOCADO_TAGS"].split()
                                for cell in matrix if cell not in reverse))
    in_arch_groups = {ref.partition(":")[2] for ref in check
                      if "arch:" + cases[ref.partition(":")[2]]["arch"]
                      in arch_groups}
    assert in_group | in_arch_groups == set(cases)
    assert not in_group & in_arch_groups


def test_ci_runs_every_arch_group_on_every_qemu_version():
    from avocado_rr.qemu_builds import QemuBuilds
    _doc, jobs = ci_jobs()
    job = jobs["check-avocado"]
    versions = QemuBuilds.load().versions()
    for cell in job["parallel"]["matrix"]:
        assert cell["QEMU_VERSION"] == versions, cell["ARCH_GROUP"]
    script = " ".join(job["script"])
    assert 'make qemu-builds QEMU_VERSION="$QEMU_VERSION"' in script
    assert script.index("make qemu-builds") < \
        script.index("make check-avocado")
    assert 'check-avocado QEMU_VERSION="$QEMU_VERSION"' in script
    assert "$QEMU_VERSION" in job["artifacts"]["reports"]["junit"]


def test_ci_publishes_junit_and_keeps_results():
    _doc, jobs = ci_jobs()
    job = jobs["check-avocado"]
    junit = job["artifacts"]["reports"]["junit"]
    script = " ".join(job["script"])
    assert f"--xunit {junit}" in script
    assert job["artifacts"]["when"] == "always"
    assert "build/results/" in job["artifacts"]["paths"]
    assert junit in job["artifacts"]["paths"]
    assert "$AVOCADO_RR_CACHE_DIR" not in str(job["cache"])
    cached = [path for cache in job["cache"] for path in cache["paths"]]
    # the asset cache is a cached dir of the checkout the job runs in
    exports = [line for line in job["before_script"]
               if line.startswith("export ")]
    cache_dir = re.search(r'AVOCADO_RR_CACHE_DIR="\$PWD/([^"]+)"',
                          " ".join(exports)).group(1)
    assert cache_dir in cached
    # assets are fetched before the tests run
    assert script.index("make assets") < script.index("make check-avocado")


def test_ci_soaks_every_qemu_version_only_when_scheduled():
    from avocado_rr.qemu_builds import QemuBuilds
    doc, jobs = ci_jobs()
    job = jobs["soak"]
    assert job["stage"] in doc["stages"]
    (rule,) = job["rules"]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in rule["if"]
    (cell,) = job["parallel"]["matrix"]
    assert cell["QEMU_VERSION"] == QemuBuilds.load().versions()
    script = " ".join(job["script"])
    assert 'make soak SOAK_VERSIONS="$QEMU_VERSION"' in script
    assert "--minutes $SOAK_MINUTES" in script
    # the budget leaves the job half an hour for set-up and the last round
    hours = int(job["timeout"].removesuffix("h"))
    assert int(job["variables"]["SOAK_MINUTES"]) <= 60 * hours - 30
    assert job["artifacts"]["when"] == "always"
    assert {"benchmarks/results/", "build/soak/"} <= \
        set(job["artifacts"]["paths"])


def test_ci_scripts_use_real_make_targets_and_commands():
    _doc, jobs = ci_jobs()
    targets, variables = makefile_targets_and_variables()
    subcommands = avocado("--help")
    checked = 0
    for name, job in jobs.items():
        for line in (job.get("before_script", []) + job["script"]
                     + job.get("after_script", [])):
            for words in commands(line):
                checked += 1
                if words[0] == "make":
                    for word in words[1:]:
                        if "=" in word:
                            assert word.split("=")[0] in variables, \
                                (name, word)
                        else:
                            assert word in targets, (name, word)
                elif words[0].startswith("build/venv/bin/"):
                    tool = words[0].rsplit("/", 1)[1]
                    assert (VENV_BIN / tool).exists(), (name, tool)
                    if tool == "avocado":
                        assert words[1] in subcommands, (name, words)
                elif words[0] in ("exit", "echo", "printf"):
                    continue
                else:
                    assert shutil.which(words[0]), (name, words[0])
    assert checked >= 6


@pytest.mark.parametrize("target", ["assets", "check-avocado", "check-unit",
                                    "venv", "qemu", "bench-parallel",
                                    "qemu-builds", "check-matrix"])
def test_make_knows_the_targets_ci_and_docs_name(target):
    res = subprocess.run(["make", "-n", target, "AVOCADO_TAGS=arch:x86_64"],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
