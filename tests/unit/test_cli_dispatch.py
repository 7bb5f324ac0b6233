"""The avocado-rr dispatcher: one module per subcommand, loaded on use."""

import json
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "replaylog"
HEAVY = ("avocado_rr.engine", "qemu.qmp", "avocado_rr.assets",
         "avocado_rr.machine", "avocado", "yaml")

PROBE = """
import sys
from avocado_rr import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in sys.modules if m.split('.')[0] in
               {h.split('.')[0] for h in %r} and
               any(m == h or m.startswith(h + '.') for h in %r))
print('HEAVY=' + ','.join(heavy), file=sys.stderr)
sys.exit(code)
""" % (HEAVY, HEAVY)


def _run(*args):
    res = subprocess.run([sys.executable, "-c", PROBE, *args],
                         capture_output=True, text=True)
    heavy = res.stderr.rsplit("HEAVY=", 1)[1].strip()
    return res, heavy


def test_dump_starts_without_the_engine_qmp_or_assets(tmp_path):
    log = tmp_path / "bios.rr"
    subprocess.run(["xz", "-dc", str(FIXTURE / "bios-disk-net.rr.xz")],
                   stdout=open(log, "wb"), check=True)
    res, heavy = _run("dump", "--summary", "--format", "json", str(log))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["clean_end"] is True
    assert heavy == "", f"dump imported {heavy}"


def test_help_lists_every_subcommand_without_loading_them():
    res, heavy = _run("--help")
    assert res.returncode == 0
    for name in ("record", "replay", "check", "dump", "assets", "qemu"):
        assert name in res.stdout
    assert heavy == ""


def test_a_pair_command_loads_the_engine():
    res, heavy = _run("replay", "--rrfile", "/nonexistent.bin", "--json")
    assert res.returncode == 2
    assert json.loads(res.stdout)["error"] == "FileNotFoundError"
    assert "avocado_rr.engine" in heavy.split(",")
