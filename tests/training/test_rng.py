import json
import random

import numpy as np
import pytest
import torch

from genlens.errors import GenlensError
from genlens.training import capture_rng_state, restore_rng_state


def _draw(g: torch.Generator) -> tuple:
    return (random.random(), random.gauss(0, 1), np.random.rand(3).tolist(), np.random.randn(),
            torch.rand(4).tolist(), torch.rand(4, generator=g).tolist())


def test_round_trip_through_json_is_exact():
    g = torch.Generator().manual_seed(5)
    random.gauss(0, 1)  # leaves a cached gaussian in both Python and NumPy state
    np.random.randn(1)
    state = json.loads(json.dumps(capture_rng_state(generators={"noise": g})))
    first = _draw(g)
    _draw(g)
    restore_rng_state(state, generators={"noise": g})
    assert _draw(g) == first


def test_missing_generator_is_named():
    state = capture_rng_state()
    with pytest.raises(GenlensError, match="noise"):
        restore_rng_state(state, generators={"noise": torch.Generator()})
