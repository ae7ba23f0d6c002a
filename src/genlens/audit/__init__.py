"""Audits of a classifier: backdoors planted and found (Neural Cleanse), and class-dependent effects of
training choices (per-class accuracy with bootstrap intervals; augmentation / weight-decay sweeps)."""
from genlens.audit.classes import ClassComparison, bootstrap_class_accuracy, compare_classes, per_class_correct
from genlens.audit.neural_cleanse import CleanseConfig, CleanseResult, anomaly_index, flag_classes, neural_cleanse
from genlens.audit.plant import PlantConfig, PlantResult, attack_success, plant_backdoor
from genlens.audit.triggers import TRIGGERS, Trigger, apply_trigger

__all__ = [
    "TRIGGERS", "ClassComparison", "CleanseConfig", "CleanseResult", "PlantConfig", "PlantResult", "Trigger",
    "anomaly_index", "apply_trigger", "attack_success", "bootstrap_class_accuracy", "compare_classes", "flag_classes",
    "neural_cleanse", "per_class_correct", "plant_backdoor",
]
