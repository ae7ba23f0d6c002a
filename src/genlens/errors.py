"""One exception type for every user-facing problem.

The message is a single line naming the problem *and* the fix; the CLI prints it without a traceback
and exits non-zero.
"""
from __future__ import annotations


class GenlensError(Exception):
    """A problem the user can fix; ``str(err)`` is one line saying what and how."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line
