"""Unit tests for pulp2ng."""
