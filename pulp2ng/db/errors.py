"""The driver's exceptions that code outside :mod:`pulp2ng.db` needs to catch."""

from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

__all__ = ["ConnectionFailure", "DuplicateKeyError", "PyMongoError"]
