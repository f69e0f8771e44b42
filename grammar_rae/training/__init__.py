"""Training: the loop, run folders and checkpoints, distributed data parallelism."""

from grammar_rae.training.api import TrainResult, split_strings, train
from grammar_rae.training.trainer import TrainConfig, Trainer

__all__ = ["TrainConfig", "TrainResult", "Trainer", "split_strings", "train"]
