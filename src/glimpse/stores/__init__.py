"""Store drivers behind one small async protocol (see base.py)."""
