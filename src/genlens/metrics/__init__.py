"""Honest image metrics: FID, KID, IS, precision/recall as functions of features; pluggable extractors; classifier judge."""

from genlens.metrics.api import (
    MetricResult,
    compute_fid,
    compute_inception_score,
    compute_kid,
    compute_precision_recall,
    feature_stats,
)
from genlens.metrics.extractors import EXTRACTORS, FeatureExtractor, HandleExtractor, extractor_for
from genlens.metrics.fid import FeatureStats, fid_from_features, fid_from_stats, frechet_distance
from genlens.metrics.inception_score import inception_score
from genlens.metrics.intervals import Interval, bootstrap_interval, seed_interval, verdict
from genlens.metrics.judge import JudgeReport, judge
from genlens.metrics.kid import kid_from_features
from genlens.metrics.precision_recall import PrecisionRecall, precision_recall

__all__ = [
    "EXTRACTORS",
    "FeatureExtractor",
    "FeatureStats",
    "HandleExtractor",
    "Interval",
    "JudgeReport",
    "MetricResult",
    "PrecisionRecall",
    "bootstrap_interval",
    "compute_fid",
    "compute_inception_score",
    "compute_kid",
    "compute_precision_recall",
    "extractor_for",
    "feature_stats",
    "fid_from_features",
    "fid_from_stats",
    "frechet_distance",
    "inception_score",
    "judge",
    "kid_from_features",
    "precision_recall",
    "seed_interval",
    "verdict",
]
