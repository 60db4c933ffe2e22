"""The demo source data (see generate.py)."""
