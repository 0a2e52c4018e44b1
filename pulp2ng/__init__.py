"""pulp2ng: the Pulp 2 platform and its REST API v2, in modern Python."""

__version__ = "0.1.0"
