"""Task tags: ``pulp:<resource type>:<id>`` and ``pulp:action:<name>``, as Pulp 2 wrote them."""


def repository(repo_id: str) -> str:
    return f"pulp:repository:{repo_id}"


def repository_importer(importer_id: str) -> str:
    return f"pulp:repository_importer:{importer_id}"


def repository_distributor(distributor_id: str) -> str:
    return f"pulp:repository_distributor:{distributor_id}"


def content_unit(kind: str) -> str:
    return f"pulp:content_unit:{kind}"


def action(name: str) -> str:
    return f"pulp:action:{name}"


def repository_group(group_id: str) -> str:
    return f"pulp:repository_group:{group_id}"


def repository_group_distributor(distributor_id: str) -> str:
    return f"pulp:repository_group_distributor:{distributor_id}"


def consumer(consumer_id: str) -> str:
    return f"pulp:consumer:{consumer_id}"
