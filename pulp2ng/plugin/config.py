"""Layered plugin configuration for one call: override > repository > plugin > defaults."""

from __future__ import annotations

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class CallConfig:
    """The configuration a plugin sees during one call; never persisted.

    Built by the platform for every hook; read it with :meth:`get` and the typed getters
    rather than by indexing a layer, so an override wins and ``None`` falls through to the
    next layer. Stored secrets are already decrypted here: never put a config value in a
    report or an error message. The plugin layer is currently always empty.

    Args:
        defaults (dict): code defaults of the plugin class (``default_config``).
        plugin (dict): plugin-level configuration (from the server config).
        repo (dict): the stored importer/distributor ``config``.
        override (dict): the request's ``override_config``.
    """

    def __init__(self, defaults=None, plugin=None, repo=None, override=None):
        self.layers = [override or {}, repo or {}, plugin or {}, defaults or {}]

    def get(self, key: str, default=None):
        """The value of ``key`` from the first layer that has it not None, else ``default``."""
        for layer in self.layers:
            if key in layer and layer[key] is not None:
                return layer[key]
        return default

    def get_boolean(self, key: str, default: bool | None = None) -> bool | None:
        """A boolean that may arrive as a JSON bool or as a string like ``"true"``."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{key} must be a boolean, got {value!r}")

    def get_int(self, key: str, default: int | None = None) -> int | None:
        """An integer (JSON number or numeric string); raises ValueError for a boolean or
        text that is not a number, so ``validate_config`` can turn it into a message."""
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            raise ValueError(f"{key} must be an integer, got {value!r}")
        return int(value)

    def keys(self) -> set:
        """Every key set in any layer (including None values)."""
        return set().union(*self.layers)

    def flatten(self) -> dict:
        """One dict with the same precedence as :meth:`get`: later layers lose."""
        merged: dict = {}
        for layer in reversed(self.layers):
            merged.update(layer)
        return merged

    @property
    def override(self) -> dict:
        """The request's ``override_config`` alone (for options valid for one call only)."""
        return self.layers[0]

    @property
    def repo(self) -> dict:
        """The stored config alone: what the user set, without defaults (for example to tell
        "feed missing but other keys given" apart in ``validate_config``)."""
        return self.layers[1]
