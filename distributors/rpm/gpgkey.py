"""``yum_distributor``'s ``gpgkey`` option: the public key clients verify packages with.

The value is the ASCII-armoured public key itself (as in pulp_rpm 2.x, whose clients passed
the key's contents, not a path). A publish places it beside the repodata as ``KEY_FILE``
and the ``.repo`` file turns ``gpgcheck`` on with ``gpgkey`` pointing at it, so a client
configured from that file verifies every package's signature.
"""

from __future__ import annotations

KEY_FILE = "RPM-GPG-KEY"
ARMOUR = "-----BEGIN PGP PUBLIC KEY BLOCK-----"


def validate(config) -> str | None:
    """Why ``gpgkey`` is invalid, or None."""
    key = config.get("gpgkey")
    if key is None:
        return None
    if not isinstance(key, str) or ARMOUR not in key or len(key) > 1 << 20:
        return f"gpgkey must be an ASCII-armoured public key ({ARMOUR} …)"
    return None


def write(tree, config) -> None:
    """Place the key in the tree being published (nothing without ``gpgkey``)."""
    key = config.get("gpgkey")
    if key:
        (tree / KEY_FILE).write_text(key if key.endswith("\n") else key + "\n")


def repo_file_lines(config, baseurl: str) -> str:
    """The ``.repo`` file's signature lines for a repository published at ``baseurl``."""
    if not config.get("gpgkey"):
        return "gpgcheck=0\n"
    return f"gpgcheck=1\ngpgkey={baseurl}{KEY_FILE}\n"
