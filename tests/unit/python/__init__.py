"""Unit tests for the Python content library."""
