"""Benchmarks: each measures guildwatch and its floor in the same run (``python -m bench``)."""
