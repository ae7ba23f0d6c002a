"""Training pieces shared by the GAN, diffusion and zoo trainers: EMA, RNG capture, resumable data order,
atomic checkpoints, LR schedule and a generic Accelerate loop with exact resume."""
from genlens.training.checkpoint import (
    find_checkpoint,
    load_checkpoint,
    read_checkpoint_state,
    save_checkpoint,
)
from genlens.training.config_diff import check_same_config, config_differences, config_to_dict
from genlens.training.data_order import DataOrder
from genlens.training.distributed import end_distributed, is_main_process, process_index
from genlens.training.ema import EMA
from genlens.training.loop import TrainConfig, train
from genlens.training.rng import capture_rng_state, restore_rng_state
from genlens.training.schedule import CosineWarmup, cosine_with_warmup

__all__ = [
    "EMA",
    "CosineWarmup",
    "DataOrder",
    "TrainConfig",
    "capture_rng_state",
    "check_same_config",
    "config_differences",
    "config_to_dict",
    "cosine_with_warmup",
    "end_distributed",
    "find_checkpoint",
    "is_main_process",
    "load_checkpoint",
    "process_index",
    "read_checkpoint_state",
    "restore_rng_state",
    "save_checkpoint",
    "train",
]
