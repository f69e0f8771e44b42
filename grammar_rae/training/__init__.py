"""Training: the loop, run folders and checkpoints, distributed data parallelism."""

from grammar_rae.run_folder import TrainConfig, split_strings
from grammar_rae.training.api import TrainResult, train
from grammar_rae.training.trainer import Trainer

__all__ = ["TrainConfig", "TrainResult", "Trainer", "split_strings", "train"]
