"""Our small Fashion-MNIST classifiers, built with timm's constructors.

``ZOO.create(name)`` builds an untrained network from its :class:`ZooSpec`; trained weights live in
``genlens/models/weights/<name>/`` and load through :func:`genlens.models.load.load_model`.
"""
from genlens.models.zoo.specs import EVALUATORS, ZOO, ZooSpec, get_spec

__all__ = ["EVALUATORS", "ZOO", "ZooSpec", "get_spec"]
