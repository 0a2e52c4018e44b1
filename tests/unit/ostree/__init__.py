"""Unit tests for the OSTree archive-format library."""
