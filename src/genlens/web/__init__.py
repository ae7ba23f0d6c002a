"""The genlens explorer: a local web app (FastAPI + one WebSocket per page) over the public library API.

``create_app`` builds the ASGI app; ``genlens explore`` (``genlens.cli.explore``) serves it on 127.0.0.1
behind a per-start token. The web layer holds no model code: panels call ``genlens.gan``,
``genlens.attribution``, ``genlens.inversion`` and ``genlens.analysis``.
"""
from genlens.web.render_queue import NewestWins
from genlens.web.security import Guard, new_token
from genlens.web.server import ExplorerConfig, create_app

__all__ = ["ExplorerConfig", "Guard", "NewestWins", "create_app", "new_token"]
