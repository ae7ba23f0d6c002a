"""What keeps other local users and web pages from driving the explorer.

* A random token per server start (as Jupyter does), required by every API call and the WebSocket, in the
  ``token`` query parameter or the ``X-Genlens-Token`` header; compared in constant time.
* The Host header must name the address the server listens on (a DNS-rebinding page reaches 127.0.0.1
  under its own host name, so it fails this check), and a present Origin must be that same address.
* Static files come only from the package's ``static`` folder: a request path is resolved and must stay
  inside it (no ``..``, no symlinks out, no absolute paths).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

TOKEN_HEADER = "x-genlens-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def new_token() -> str:
    """A fresh URL-safe token with 192 bits of randomness."""
    return secrets.token_urlsafe(24)


@dataclass
class Guard:
    """Token and Host/Origin checks for one server start; ``hosts`` are ``name:port`` strings."""

    token: str
    hosts: set[str] = field(default_factory=set)

    @classmethod
    def for_address(cls, token: str, host: str, port: int) -> Guard:
        names = set(LOOPBACK_NAMES) if host in ("127.0.0.1", "localhost", "::1") else set()
        names.add(f"[{host}]" if ":" in host else host)
        return cls(token, {f"{n}:{port}" for n in names})

    def host_ok(self, host: str | None) -> bool:
        return host is not None and host.lower() in self.hosts

    def origin_ok(self, origin: str | None) -> bool:
        """No Origin (same-origin GETs, non-browser clients) is fine; a present one must be ours."""
        if origin is None:
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and parts.netloc.lower() in self.hosts

    def token_ok(self, query_string: bytes, headers: dict[str, str]) -> bool:
        given = headers.get(TOKEN_HEADER) or parse_qs(query_string.decode("latin-1")).get("token", [""])[0]
        return secrets.compare_digest(given.encode(), self.token.encode())

    def refusal(self, path: str, query_string: bytes, headers: dict[str, str]) -> str | None:
        """One line saying why a request is refused, or None when it may go on."""
        if not self.host_ok(headers.get("host")):
            return "Host header is not this server's address; open the URL that `genlens explore` printed"
        if not self.origin_ok(headers.get("origin")):
            return "cross-origin request refused; use the explorer page itself"
        if path.startswith(("/api/", "/ws")) and not self.token_ok(query_string, headers):
            return "missing or wrong token; open the URL (with ?token=...) that `genlens explore` printed"
        return None


def static_file(root: Path, rel: str) -> Path | None:
    """The file ``rel`` inside ``root``, or None when it is missing or would leave ``root``."""
    if not rel or "\x00" in rel or rel.startswith(("/", "\\")) or "\\" in rel:
        return None
    root = root.resolve()
    try:
        path = (root / rel).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
