"""isobatch from Python: run image-analysis batches and get their results as DataFrames.

>>> import isobatch
>>> batch = isobatch.run("demo/raw", "demo/processed")      # doctest: +SKIP
>>> batch.traces.groupby("fov").cell.nunique()              # doctest: +SKIP

The wheel installs the ``isobatch`` binary into this environment; :func:`run` starts it as a
child process, so a crashing task never takes the notebook with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import _process
from ._batch import PROBLEM_KINDS, Batch
from ._binary import executable
from ._command import Duration, run_args
from ._errors import IsobatchError
from ._progress import _FINISHED as _FINISHED_LINE
from ._progress import Display, choose
from ._tables import VERDICTS

__all__ = ["PROBLEM_KINDS", "VERDICTS", "Batch", "IsobatchError", "executable", "open", "run"]

try:
    __version__ = version("isobatch")
except PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "unknown"

PathLike = str | os.PathLike[str]


def run(
    input: PathLike,
    output: PathLike,
    pipeline: str = "fov",
    mode: str = "subprocess",
    workers: int | str = "auto",
    timeout: Duration | None = None,
    memory_debug: bool = False,
    params: Mapping[str, Any] | None = None,
    exec: str | Sequence[str] | None = None,
    pattern: str | None = None,
    grid: Mapping[str, str | Sequence[Any]] | None = None,
    progress: str = "auto",
    **flags: Any,
) -> Batch:
    """Runs ``isobatch run`` on ``input`` into ``output`` and returns the :class:`Batch`.

    Arguments mirror the command line: ``params={"frame_interval": "10m"}`` is
    ``--param frame_interval=10m``; ``grid={"dye": ["dapi", "gfp"]}`` is ``--grid dye=dapi,gfp``;
    ``exec`` is a template string or an argv list (``{input}``, ``{task_dir}``... placeholders);
    ``timeout`` is seconds, a ``timedelta`` or text like ``"1h30m"``. Any other flag goes through
    ``**flags``: ``retries=1`` → ``--retries 1``, ``force=True`` → ``--force``,
    ``select=["fov0*", "fov1*"]`` → ``--select`` twice. The CLI refuses what it does not know.

    ``progress``: ``"auto"`` (a tqdm bar in a notebook, the CLI's plain lines elsewhere),
    ``"bar"``, ``"plain"`` or ``"none"``.

    A batch where some tasks failed (exit code 1) is returned, not raised: see
    :attr:`Batch.problems`. A refusal (exit 2), a locked output folder (3) or an interrupt from
    outside (130) raises :class:`IsobatchError`. Ctrl-C (KeyboardInterrupt) is passed on to
    isobatch as one SIGINT: running tasks finish and nothing new starts; a second Ctrl-C cancels
    the running tasks. ``run`` waits for isobatch to stop, then re-raises KeyboardInterrupt; the
    same call later resumes the batch.
    """
    output_dir = os.path.abspath(os.fspath(output))
    display = Display(choose(progress))
    args = run_args(
        input=os.path.abspath(os.fspath(input)),
        output=output_dir,
        pipeline=pipeline,
        mode=mode,
        workers=workers,
        timeout=timeout,
        memory_debug=memory_debug,
        params=params or {},
        exec=exec,
        pattern=pattern,
        grid=grid,
        progress="none" if display.mode == "none" else "plain",
        flags=flags,
    )
    finished = _process.stream(executable(), args, display)
    if finished.interrupts:
        raise KeyboardInterrupt
    if finished.exit_code in (0, 1):
        return Batch(output_dir, finished.exit_code)
    said = [line for line in finished.stderr if not _FINISHED_LINE.match(line)]
    raise IsobatchError(finished.exit_code, "\n".join(said).strip())


def open(output: PathLike) -> Batch:
    """The batch in ``output`` (finished or still running).

    Raises :class:`IsobatchError` (exit code 2) when ``output`` is not an isobatch output folder.
    """
    batch = Batch(output)
    if not (batch.output / ".isobatch").is_dir():
        raise IsobatchError(2, f"{batch.output} is not an isobatch output folder (no .isobatch/)")
    return batch
