"""Tests that need a missing tool skip on a user's machine and fail in CI."""

import pytest

from tests import conftest


def test_require_tool_skips_or_fails_under_ci(monkeypatch):
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="ostree is not installed"):
        conftest.require_tool("ostree")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        conftest.require_tool("ostree")


def test_require_tool_returns_the_path():
    assert conftest.require_tool("sh").endswith("/sh")
