"""Turns the keyword arguments of :func:`isobatch.run` into an ``isobatch run`` command line."""

from __future__ import annotations

import datetime
import os
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

Duration = str | int | float | datetime.timedelta
"""A DURATION: seconds as a number, a :class:`datetime.timedelta`, or text like ``"1h30m"``."""

# Flags the API owns: passing them through ``**flags`` would fight with how run() reads the
# command's output.
_OWNED = {"progress", "json", "input", "output", "help", "version"}


def duration(value: Duration) -> str:
    """A DURATION as the command line takes it (seconds when a number)."""
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool):
        raise TypeError(f"a duration cannot be a bool ({value!r})")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative ({value!r})")
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def flag_name(key: str) -> str:
    """``max_fail`` → ``--max-fail``."""
    return "--" + key.replace("_", "-")


def flag_args(key: str, value: Any) -> list[str]:
    """The arguments one ``**flags`` entry stands for.

    ``True`` is the bare flag, ``False``/``None`` leaves it out, a list or tuple repeats it,
    anything else is its ``str()``.
    """
    if key in _OWNED:
        raise TypeError(f"{key!r} is set by isobatch.run itself, not through **flags")
    name = flag_name(key)
    if value is None or value is False:
        return []
    if value is True:
        return [name]
    if isinstance(value, (list, tuple)):
        return [arg for item in value for arg in (name, _text(item))]
    return [name, _text(value)]


def _text(value: Any) -> str:
    if isinstance(value, datetime.timedelta):
        return duration(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def exec_template(command: str | Sequence[str]) -> str:
    """An ``--exec`` template from a string (split by isobatch like a shell) or an argv list."""
    if isinstance(command, str):
        return command
    return shlex.join([_text(part) for part in command])


def run_args(
    *,
    input: str,
    output: str,
    pipeline: str,
    mode: str,
    workers: int | str,
    timeout: Duration | None,
    memory_debug: bool,
    params: Mapping[str, Any],
    exec: str | Sequence[str] | None,
    pattern: str | None,
    grid: Mapping[str, str | Sequence[Any]] | None,
    progress: str,
    flags: Mapping[str, Any],
) -> list[str]:
    """The arguments after ``isobatch``: ``run --input ... --output ...`` and the rest."""
    args = ["run", "--input", input, "--output", output, "--pipeline", pipeline]
    args += ["--mode", mode, "--workers", str(workers), "--progress", progress]
    if timeout is not None:
        args += ["--timeout", duration(timeout)]
    if memory_debug:
        args.append("--memory-debug")
    for key, value in params.items():
        args += ["--param", f"{key}={_text(value)}"]
    if exec is not None:
        args += ["--exec", exec_template(exec)]
    if pattern is not None:
        args += ["--pattern", pattern]
    for field, values in (grid or {}).items():
        listed = values if isinstance(values, str) else ",".join(_text(v) for v in values)
        args += ["--grid", f"{field}={listed}"]
    for key, value in flags.items():
        args += flag_args(key, value)
    return args
