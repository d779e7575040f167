"""Benchmarks: callbot measured against the bare stack it stands on, in the same run. `python -m bench`."""
