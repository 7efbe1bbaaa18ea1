"""The one exception the API raises for a failed isobatch command."""

from __future__ import annotations


class IsobatchError(Exception):
    """An isobatch command refused or failed.

    ``exit_code`` is the command's documented exit code (2 usage/config/discovery/pre-flight
    refusal, 3 another run holds the output folder, 130 interrupted from outside), and
    ``message`` what it printed about why.
    """

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(f"isobatch exited with code {exit_code}: {message}")
        self.exit_code = exit_code
        self.message = message
