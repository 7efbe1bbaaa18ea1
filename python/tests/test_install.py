"""The wheel puts the binary beside the interpreter and the module on the import path."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import isobatch


def test_module_and_binary_come_from_this_environment():
    # Imported from site-packages, not from the source tree.
    assert Path(isobatch.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
    binary = Path(sysconfig.get_path("scripts")) / "isobatch"
    assert binary.is_file()
    assert isobatch.executable() == binary
    assert shutil.which("isobatch", path=str(binary.parent)) == str(binary)
    version = subprocess.run(
        [str(binary), "--version"], check=False, capture_output=True, text=True
    )
    assert version.returncode == 0
    assert version.stdout.split() == ["isobatch", isobatch.__version__]


def test_the_worker_runs_from_the_wheel_binary(demo_batch):
    # The wheel has one binary: the supervisor runs its workers as `isobatch __worker`.
    assert demo_batch.exit_code == 0
    run_log = (demo_batch.output / ".isobatch" / "run.log").read_text()
    assert f"workers run {isobatch.executable()} (" in run_log
