"""Registries per family: ``@REG.register(name)``, ``REG.create(name, **kw)``, ``REG.available()``.

One small class serves every family (classifiers, extractors, augmentations, objectives, samplers...).
Unknown names raise a one-line :class:`GenlensError` that lists what exists.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from genlens.errors import GenlensError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, Callable[..., T]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **meta: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(fn: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.family} '{name}' is registered twice")
            self._entries[name] = fn
            self._meta[name] = dict(meta)
            return fn

        return deco

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._entries:
            known = ", ".join(self.available()) or "(none)"
            raise GenlensError(f"unknown {self.family} '{name}'; choose one of: {known}")
        return self._entries[name]

    def create(self, name: str, **kwargs: Any) -> T:
        return self.get(name)(**kwargs)

    def meta(self, name: str) -> dict[str, Any]:
        self.get(name)
        return dict(self._meta[name])

    def available(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {self.available()})"
