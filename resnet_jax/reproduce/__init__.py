"""The papers' tables and figures: grids of runs (sweeps), the published numbers beside ours, plots."""
