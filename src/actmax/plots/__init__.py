"""Figures: one module per kind of picture (training curves, image grids, attribution rows)."""
