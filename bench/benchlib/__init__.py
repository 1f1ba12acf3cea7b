"""Helpers for bench/run.py: HTTP clients, server process control, machine limits, external tools, report."""
