"""The console watcher on a file that grows while it waits."""

import re
import threading
import time

from avocado_rr.console import ConsoleWatcher


def writer(path, chunks, delay=0.02):
    def run():
        with open(path, "ab", buffering=0) as out:
            for chunk in chunks:
                out.write(chunk)
                time.sleep(delay)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_waits_for_a_complete_line(tmp_path):
    path = tmp_path / "console.log"
    thread = writer(path, [b"booting\r\nKernel com", b"mand line: x\r\n",
                           b"more\r\n"])
    match = ConsoleWatcher(path, 0.005).wait(["Kernel command line"],
                                             timeout=5)
    thread.join()
    assert match.kind == "success"
    assert match.line == "Kernel command line: x\r"
    assert match.offset == len(b"booting\r\nKernel command line: x\r\n")


def test_failure_pattern_wins_and_regex_patterns(tmp_path):
    path = tmp_path / "console.log"
    path.write_bytes(b"Kernel panic - not syncing: oops\nVFS: x\n")
    match = ConsoleWatcher(path).wait([re.compile(r"VFS: \w")], timeout=1)
    assert match.kind == "failure"
    assert match.pattern == "Kernel panic - not syncing"


def test_timeout_and_exit(tmp_path):
    path = tmp_path / "console.log"
    path.write_bytes(b"partial line without newline")
    assert ConsoleWatcher(path).wait(["never"], timeout=0.1).kind == "timeout"
    # once the producer is gone, the unterminated tail counts
    match = ConsoleWatcher(path).wait(["without newline"],
                                      alive=lambda: False)
    assert match.kind == "success"
    assert ConsoleWatcher(path).wait(["never"], alive=lambda: False).kind \
        == "exited"


def test_missing_file_is_empty(tmp_path):
    watcher = ConsoleWatcher(tmp_path / "absent.log")
    assert watcher.wait(["x"], timeout=0.05).kind == "timeout"
    assert watcher.text == ""
