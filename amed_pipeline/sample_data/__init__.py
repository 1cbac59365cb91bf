"""Deterministic sample data: the Active Medicine programme as raw partnership exports.

The pipeline has to cope with what partnerships really send (several Eventbrite dialects,
overlapping cumulative exports, Bookwhen, paper registers, four survey tools, BOMs, cp1252,
US and UK dates), and its results must be checkable. This package builds a ground-truth
model of the programme calibrated to the published evaluation (1,301 people, 1,385
attendances, 68 sessions, July 2020 - July 2021) and renders it into those raw files. No
aggregate figure is written: `ground_truth_summary` recomputes them from the model for tests.

    python -m amed_pipeline.sample_data --out data [--seed 2020] [--scale 1]
"""

from .generator import generate
from .programme import build_model
from .summary import ground_truth_summary

__all__ = ["build_model", "generate", "ground_truth_summary"]
