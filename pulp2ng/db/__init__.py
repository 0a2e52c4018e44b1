"""MongoDB access: the only module family that talks to pymongo.

``connect(settings)`` returns a :class:`~pulp2ng.db.store.Store`. Query shapes are chosen to be
fast on real MongoDB *and* on the embedded SecantusDB, whose query engine is Python: documents
get deterministic ``_id`` values, bulk writes are unordered, and large lookups by id are done as
one projected scan plus set arithmetic in Python instead of huge ``$in`` lists.
"""

from pulp2ng.db.store import Store, connect

__all__ = ["Store", "connect"]
