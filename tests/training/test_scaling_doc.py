"""docs/scaling.md's Accelerate config and commands are what the installed accelerate reads."""
from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


def _yaml_block() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_multi_machine_config_is_read_by_accelerate(tmp_path):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    path = tmp_path / "accelerate-2x8.yaml"
    path.write_text(_yaml_block())
    config = load_config_from_file(str(path))  # unknown keys are an error here
    assert isinstance(config, ClusterConfig) and config.distributed_type == "MULTI_GPU"
    args = launch_command_parser().parse_args(["--config_file", str(path), "-m", "genlens.cli.main",
                                               "diffusion", "train", "--batch", "512"])
    args = _validate_launch_command(args)[0]
    assert args.multi_gpu and (args.num_processes, args.num_machines, args.machine_rank) == (16, 2, 0)
    assert args.module and args.training_script == "genlens.cli.main"
    assert args.training_script_args == ["diffusion", "train", "--batch", "512"]


def test_documented_entry_point_exists():
    import genlens.cli.main as entry

    assert callable(entry.main) and "-m genlens.cli.main" in DOC.read_text()
