"""Defer Ctrl-C to the end of the current training step, so the state saved on interrupt is consistent."""
from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Self


class DeferredInterrupt:
    """Within ``with DeferredInterrupt() as stop:``, a first SIGINT only sets ``stop.requested``; a second
    one raises ``KeyboardInterrupt`` at once. Outside the main thread it does nothing (signals can only be
    handled there)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
