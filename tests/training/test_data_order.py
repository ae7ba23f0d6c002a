import pytest
import torch

from genlens.errors import GenlensError
from genlens.training import DataOrder


def test_epochs_are_seeded_permutations_without_partial_batches():
    order = DataOrder(10, batch_size=4, seed=1)
    batches = [order.next_indices() for _ in range(4)]  # 2 batches per epoch, tail of 2 dropped
    assert order.batches_per_epoch == 2
    epoch0 = torch.cat(batches[:2])
    assert torch.equal(epoch0, order.permutation(0)[:8])
    assert len(set(epoch0.tolist())) == 8
    assert torch.equal(torch.cat(batches[2:]), order.permutation(1)[:8])
    assert not torch.equal(order.permutation(0), order.permutation(1))
    assert torch.equal(DataOrder(10, batch_size=4, seed=1).permutation(0), order.permutation(0))
    assert not torch.equal(DataOrder(10, batch_size=4, seed=2).permutation(0), order.permutation(0))


def test_resume_mid_epoch_continues_the_same_sequence():
    ref = DataOrder(13, batch_size=3, seed=0)
    expected = [ref.next_indices() for _ in range(9)]
    first = DataOrder(13, batch_size=3, seed=0)
    got = [first.next_indices() for _ in range(5)]
    resumed = DataOrder(13, batch_size=3, seed=0)
    resumed.load_state_dict(first.state_dict())
    got += [resumed.next_indices() for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))


def test_processes_split_each_global_batch():
    single = DataOrder(20, batch_size=6, seed=4)
    shards = [DataOrder(20, batch_size=6, seed=4, num_processes=3, process_index=i) for i in range(3)]
    for _ in range(7):
        whole = single.next_indices()
        parts = [s.next_indices() for s in shards]
        assert all(len(p) == 2 for p in parts)
        assert torch.equal(torch.cat(parts), whole)


@pytest.mark.parametrize(
    "kwargs", [{"batch_size": 5, "num_processes": 2}, {"batch_size": 0}, {"batch_size": 11}]
)
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(GenlensError):
        DataOrder(10, **kwargs)


def test_state_from_other_data_is_rejected():
    state = DataOrder(10, batch_size=2).state_dict()
    with pytest.raises(GenlensError, match="num_items"):
        DataOrder(12, batch_size=2).load_state_dict(state)
