"""OSTree unit types: one ``ostree`` unit per branch commit, one ``ostree_object`` per object.

Objects are content-addressed units of their own so that objects shared between commits,
branches and repositories are stored once, and so that orphan cleanup can tell which object
files are still needed: a repository holds the object units of every commit it holds. Each
commit unit's ``_storage_path`` is its *inventory*, a stored text file with one
``<checksum>.<objtype>`` line per object the commit needs (itself and its detached metadata
included), so copying a commit can pull its objects along without re-walking trees.
"""

from pulp2ng.plugin import UnitType

COMMIT_TYPE = "ostree"
OBJECT_TYPE = "ostree_object"

UNIT_TYPES = [
    UnitType(COMMIT_TYPE, "OSTree Commit", ("remote_id", "branch", "commit"),
             description="One commit of an OSTree branch (ref)",
             search_indexes=("branch", "commit"), referenced_types=(OBJECT_TYPE,)),
    # Internal: Pulp 2 never had object units. Only ``ostree`` commits are the repository's
    # content in the API; the object inventory serves publishing and orphan cleanup.
    UnitType(OBJECT_TYPE, "OSTree Object", ("checksum", "objtype"),
             description="A content-addressed OSTree object (commit, dirtree, dirmeta, filez, "
                         "commitmeta)", internal=True),
]


def object_storage_type(objtype: str) -> str:
    """The content-storage folder of one object type (``content/ostree_<objtype>/xx/...``).

    Objects are stored under their OSTree checksum, which is not the sha256 of the stored
    bytes for ``filez`` (compressed) and ``commitmeta`` (named after its commit), so each
    object type gets its own folder and a commit and its commitmeta never collide.
    """
    return f"ostree_{objtype}"
