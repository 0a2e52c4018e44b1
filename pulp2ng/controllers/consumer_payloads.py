"""What a binding gives a consumer: the distributor's consumer payload, built with the server's
public address.

The consumers API calls :func:`consumer_payload` when a consumer binds (and to show a
binding's ``details``); the payload travels to the consumer's agent, whose handler writes the
client configuration from it. Only the distributor knows its URLs, so the platform supplies
where it answers (``server``) and the distributor composes the rest.
"""

from __future__ import annotations

from pulp2ng.controllers.plugin_calls import call_config, transfer_repo
from pulp2ng.errors import InvalidValue, MissingResource
from pulp2ng.plugin import SECRET_KEYS
from pulp2ng.server_address import server_info


def consumer_payload(platform, repo_id: str, distributor_id: str,
                     binding_config: dict | None = None) -> dict:
    """The payload a consumer bound to ``repo_id``/``distributor_id`` receives.

    Raises MissingResource (404) for an unknown repository or distributor and InvalidValue
    when ``binding_config`` is not an object. Side-effect free: safe to call on every GET.
    """
    if binding_config is not None and not isinstance(binding_config, dict):
        raise InvalidValue(["binding_config"], "binding_config must be an object")
    repo = platform.store.find_repository(repo_id)
    if repo is None:
        raise MissingResource(repository=repo_id)
    dist = platform.store.find_distributor(repo_id, distributor_id)
    if dist is None:
        raise MissingResource(repository=repo_id, distributor=distributor_id)
    cls = platform.plugins.distributors.get(dist["distributor_type_id"])
    if cls is None:
        raise MissingResource(distributor_type=dist["distributor_type_id"])
    imp = platform.store.find_importer(repo_id)
    plugin_repo = transfer_repo(platform, repo)
    # Secrets never leave the server: the importer's view keeps only the plain keys.
    plugin_repo["importer"] = None if imp is None else {
        "importer_type_id": imp["importer_type_id"],
        "config": {k: v for k, v in (imp.get("config") or {}).items() if k not in SECRET_KEYS},
    }
    config = call_config(platform, cls, dist.get("config") or {})
    try:
        return cls().create_consumer_payload(plugin_repo, config, dict(binding_config or {}),
                                             server_info(platform.settings))
    except NotImplementedError:
        raise InvalidValue(["distributor_id"], f"Consumers cannot bind to distributors of "
                           f"type {dist['distributor_type_id']}") from None
