"""Analyses of what a trained network does with its units (dead-unit census, ...)."""
from genlens.analysis.dead_units import DeadUnitReport, LayerCensus, dead_unit_census

__all__ = ["DeadUnitReport", "LayerCensus", "dead_unit_census"]
