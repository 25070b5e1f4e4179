"""Progress bars of long commands: on stderr when it is a terminal, never with --json or a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from conftest import ROOT

SCRIPT = (
    "import sys; from issc.progress import progress\n"
    "items = list(progress(range(40), desc='work', unit='item', json_output={json}))\n"
    "print(len(items), sum(items))\n"
)


def run_with_stderr_on_a_terminal(code: str) -> tuple[str, str]:
    """(stdout, what the terminal showed on stderr)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=follower, env=env, text=True
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    return out, shown.decode(errors="replace")


@pytest.mark.parametrize(("json_output", "bar"), [(False, True), (True, False)])
def test_a_bar_on_a_terminal_unless_json(json_output: bool, bar: bool) -> None:
    out, shown = run_with_stderr_on_a_terminal(SCRIPT.format(json=json_output))
    assert out.split() == ["40", "780"]  # every item passes through, in order
    assert (re.search(r"work: +\d+%\|.*\| \d+/40 \[", shown) is not None) is bar, shown


def test_no_bar_when_stderr_is_a_pipe() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(json=False)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.split() == ["40", "780"] and done.stderr == ""
