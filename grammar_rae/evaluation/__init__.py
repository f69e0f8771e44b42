"""Evaluation: reconstruction, the papers' protocol, the MOSES metrics, structural filters and figures."""

from grammar_rae.evaluation.filters import passes_filters
from grammar_rae.evaluation.metrics import SetMetrics, set_metrics
from grammar_rae.evaluation.moses import FeatureSet, moses_metrics
from grammar_rae.evaluation.plots import sample_figures
from grammar_rae.evaluation.protocol import Evaluation, EvaluationSettings, evaluate
from grammar_rae.evaluation.reconstruction import Reconstruction, reconstruction_accuracy
from grammar_rae.evaluation.references import file_metrics

__all__ = [
    "Evaluation",
    "EvaluationSettings",
    "FeatureSet",
    "Reconstruction",
    "SetMetrics",
    "evaluate",
    "file_metrics",
    "moses_metrics",
    "passes_filters",
    "reconstruction_accuracy",
    "sample_figures",
    "set_metrics",
]
