"""Defer Ctrl-C (SIGINT) and SIGTERM to the end of the current training step, so the state saved on
interrupt is consistent: a job scheduler's ``kill`` (SIGTERM) checkpoints exactly like Ctrl-C."""
from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Self

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DeferredInterrupt:
    """Within ``with DeferredInterrupt() as stop:``, a first SIGINT or SIGTERM only sets ``stop.requested``;
    a second one raises ``KeyboardInterrupt`` at once. Outside the main thread it does nothing (signals can only be
    handled there)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)
            self._installed = False
