"""Metric tables for the evaluator: the evaluation's figures, computed in SQL inside the warehouse."""
