"""Tests for the container registry client and registry-serving helpers."""
