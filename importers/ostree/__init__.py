"""Pure-Python OSTree archive-repository format library (no libostree, no platform imports)."""
