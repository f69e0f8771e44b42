"""Generation from trained models: loading runs and shipped models, masked and constrained
decoding, ex-post densities, sampling and interpolation."""

from grammar_rae.generation.decoding import MODES, DecodeResult, beam_decode, masked_decode
from grammar_rae.generation.density import DENSITIES, DensityError, LatentDensity
from grammar_rae.generation.interpolation import interpolate
from grammar_rae.generation.pretrained import available, pretrained_folder
from grammar_rae.generation.sampling import Samples, fit_density, sample
from grammar_rae.generation.trained import TrainedModel, find_run

__all__ = [
    "DENSITIES",
    "MODES",
    "DecodeResult",
    "DensityError",
    "LatentDensity",
    "Samples",
    "TrainedModel",
    "available",
    "beam_decode",
    "find_run",
    "fit_density",
    "interpolate",
    "masked_decode",
    "pretrained_folder",
    "sample",
]
