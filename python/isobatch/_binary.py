"""Where the ``isobatch`` executable is: the one the wheel installed beside this interpreter."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path


def executable() -> Path:
    """The ``isobatch`` binary to run.

    In order: ``$ISOBATCH_BIN``; the scripts folder of this interpreter (where ``pip install``
    put the wheel's binary, also for ``--user`` installs); ``isobatch`` on ``PATH``. The wheel's
    own binary comes first so the module and the binary always come from the same wheel.
    """
    override = os.environ.get("ISOBATCH_BIN")
    if override:
        return Path(override)
    name = "isobatch.exe" if os.name == "nt" else "isobatch"
    folders = [sysconfig.get_path("scripts"), Path(sys.executable).parent]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        folders.append(sysconfig.get_path("scripts", scheme=user_scheme))
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("isobatch")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "the isobatch binary is not installed beside this Python "
        f"({sysconfig.get_path('scripts')}) nor on PATH; reinstall the isobatch wheel "
        "or set ISOBATCH_BIN"
    )
