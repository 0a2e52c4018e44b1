"""Bindings of consumers to repository distributors, and content actions on consumers.

Pulp 2 semantics (§1.10, §4.8): with ``notify_agent`` (the default) a bind or unbind is an
agent request (a task the consumer's agent carries out, :mod:`pulp2ng.tasking.agent`); an
unbind only marks the binding deleted until the agent confirms, unless ``force``d. The
distributor decides what the agent receives (``create_consumer_payload``).
"""

from __future__ import annotations

from pulp2ng.controllers.consumer_payloads import consumer_payload
from pulp2ng.controllers.consumers import get_consumer
from pulp2ng.controllers.fields import known_fields
from pulp2ng.db.consumers import binding_id
from pulp2ng.db.store import now
from pulp2ng.errors import (
    BindError,
    DistributorUnbindError,
    InvalidValue,
    MissingResource,
    MissingValue,
    RepositoryUnbindError,
)
from pulp2ng.tasking import tags
from pulp2ng.tasking.agent import request_agent
from pulp2ng.tasking.dispatch import CallReport

CONTENT_ACTIONS = ("install", "update", "uninstall")
_BIND_FIELDS = {"repo_id", "distributor_id", "notify_agent", "binding_config", "options"}


def _object(body, name: str, default=None) -> dict:
    value = body.get(name, default)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue([name], f"{name} must be an object")
    return value


def _tags(consumer_id: str, repo_id: str, distributor_id: str, action: str) -> list[str]:
    return [tags.consumer(consumer_id), tags.repository(repo_id),
            tags.repository_distributor(distributor_id), tags.action(action)]


def get_binding(platform, consumer_id: str, repo_id: str, distributor_id: str) -> dict:
    binding = platform.store.find_binding(consumer_id, repo_id, distributor_id)
    if binding is None:
        raise MissingResource(bind_id=binding_id(consumer_id, repo_id, distributor_id))
    return binding


def list_bindings(platform, consumer_id: str, repo_id: str | None = None) -> list[dict]:
    get_consumer(platform, consumer_id)
    query = {"consumer_id": consumer_id, **({"repo_id": repo_id} if repo_id else {})}
    return platform.store.find_bindings(query)


def binding_details(platform, binding: dict) -> dict:
    """What the agent of a bound consumer receives: the distributor's payload."""
    return consumer_payload(platform, binding["repo_id"], binding["distributor_id"],
                            binding.get("binding_config") or {})


def _bind_request(body) -> dict:
    """The checked fields of a bind request."""
    known_fields(body, _BIND_FIELDS, "binding")
    missing = [k for k in ("repo_id", "distributor_id") if not body.get(k)]
    if missing:
        raise MissingValue(missing)
    notify = body.get("notify_agent", True)
    if not isinstance(notify, bool):
        raise InvalidValue(["notify_agent"], "notify_agent must be a boolean")
    return {"repo_id": body["repo_id"], "distributor_id": body["distributor_id"],
            "notify_agent": notify, "binding_config": _object(body, "binding_config"),
            "options": _object(body, "options")}


def _bind_target(platform, request: dict) -> tuple[dict, dict]:
    """The distributor bound to and what its consumers' agents receive; raises before
    anything is stored when either is missing or the distributor refuses."""
    distributor = platform.store.get_distributor(request["repo_id"],
                                                 request["distributor_id"])
    details = consumer_payload(platform, request["repo_id"], request["distributor_id"],
                               request["binding_config"])
    return distributor, details


def _bind(platform, consumer_id: str, request: dict, distributor: dict, details: dict
          ) -> tuple[str | None, dict]:
    """Store the binding; returns the agent request's task id (None without
    ``notify_agent``) and the binding."""
    repo_id, distributor_id = request["repo_id"], request["distributor_id"]
    binding = platform.store.upsert_binding({
        "_id": binding_id(consumer_id, repo_id, distributor_id),
        "consumer_id": consumer_id, "repo_id": repo_id, "distributor_id": distributor_id,
        "type_id": distributor["distributor_type_id"],
        "notify_agent": request["notify_agent"],
        "binding_config": request["binding_config"]})
    platform.store.add_consumer_event(consumer_id, "repo_bound",
                                      {"repo_id": repo_id, "distributor_id": distributor_id})
    if not request["notify_agent"]:
        return None, binding
    task_id = _request(platform, binding, "bind", {**_agent_binding(binding, details),
                                                   "options": request["options"]})
    return task_id, binding


def bind(platform, consumer_id: str, body) -> tuple[CallReport, dict]:
    """Bind; returns the call report and the binding (202 with an agent request when
    ``notify_agent``, else 200 with the binding as ``result``)."""
    request = _bind_request(body)
    get_consumer(platform, consumer_id)
    task_id, binding = _bind(platform, consumer_id, request, *_bind_target(platform, request))
    if task_id is None:
        return CallReport(result=binding), binding
    return CallReport(spawned_tasks=[task_id]), binding


def bind_consumers(platform, consumer_ids: list[str], body) -> CallReport:
    """Bind every one of ``consumer_ids`` alike (a consumer group's bind): the request and
    the distributor are checked once, before any consumer is bound. The report spawns one
    agent request per consumer (none without ``notify_agent``)."""
    request = _bind_request(body)
    distributor, details = _bind_target(platform, request)
    spawned = []
    for consumer_id in consumer_ids:
        task_id, _ = _bind(platform, consumer_id, request, distributor, details)
        if task_id is not None:
            spawned.append(task_id)
    return CallReport(spawned_tasks=spawned)


def _unbind_request(body) -> tuple[bool, dict]:
    body = body if isinstance(body, dict) else {}
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise InvalidValue(["force"], "force must be a boolean")
    return force, _object(body, "options")


def unbind(platform, consumer_id: str, repo_id: str, distributor_id: str, body) -> CallReport:
    """Unbind: deleted now without an agent to tell (or with ``force``), else marked deleted
    until the agent confirms."""
    force, options = _unbind_request(body)
    get_consumer(platform, consumer_id)
    binding = get_binding(platform, consumer_id, repo_id, distributor_id)
    return CallReport(spawned_tasks=_unbind(platform, binding, force, options))


def unbind_consumers(platform, consumer_ids: list[str], repo_id: str, distributor_id: str,
                     body) -> CallReport:
    """Unbind those of ``consumer_ids`` bound to the distributor (a consumer group's unbind);
    a binding already waiting for its agent's unbind is left to it unless ``force``d."""
    force, options = _unbind_request(body)
    platform.store.get_distributor(repo_id, distributor_id)
    spawned = []
    for binding in platform.store.find_bindings_of(consumer_ids, repo_id, distributor_id):
        if force or not binding.get("deleted"):
            spawned += _unbind(platform, binding, force, options)
    return CallReport(spawned_tasks=spawned)


def _unbind(platform, binding: dict, force: bool, options: dict) -> list[str]:
    store = platform.store
    if not binding.get("notify_agent", True):
        store.delete_binding(binding["_id"])
        spawned = []
    else:
        task_id = _request(platform, binding, "unbind",
                           {"repo_id": binding["repo_id"],
                            "distributor_id": binding["distributor_id"],
                            "type_id": binding.get("type_id"), "options": options},
                           deleted=True)
        if force:
            store.delete_binding(binding["_id"])
        spawned = [task_id]
    store.add_consumer_event(binding["consumer_id"], "repo_unbound",
                             {"repo_id": binding["repo_id"],
                              "distributor_id": binding["distributor_id"]})
    return spawned


def _request(platform, binding: dict, action: str, payload: dict,
             deleted: bool | None = None) -> str:
    task_id = request_agent(platform, binding["consumer_id"], action, payload,
                            _tags(binding["consumer_id"], binding["repo_id"],
                                  binding["distributor_id"], f"agent_{action}"))
    platform.store.add_consumer_action(
        binding["_id"], {"id": task_id, "action": action, "status": "pending",
                         "timestamp": now()}, deleted=deleted)
    return task_id


def _agent_binding(binding: dict, details: dict) -> dict:
    return {"binding": {"repo_id": binding["repo_id"],
                        "distributor_id": binding["distributor_id"],
                        "type_id": binding["type_id"], "details": details,
                        "binding_config": binding.get("binding_config") or {}}}


def _content_request(body) -> tuple[list, dict]:
    """The checked ``units`` and ``options`` of a content action."""
    if not isinstance(body, dict):
        raise InvalidValue(["body"], "the request must be a JSON object")
    missing = [k for k in ("units", "options") if k not in body]
    if missing:
        raise MissingValue(missing)
    return check_units(body["units"]), check_options(body["options"])


def check_units(units) -> list:
    """The ``units`` of a content action (or of its schedule): ``[{type_id, unit_key}]``."""
    if not isinstance(units, list) or not all(
            isinstance(u, dict) and isinstance(u.get("type_id"), str)
            and isinstance(u.get("unit_key"), dict) for u in units):
        raise InvalidValue(["units"], "units must be a list of {type_id, unit_key}")
    return units


def check_options(options) -> dict:
    if not isinstance(options, dict):
        raise InvalidValue(["options"], "options must be an object")
    return options


def request_content_action(platform, consumer_id: str, action: str, units: list,
                           options: dict, scheduled_call_id: str | None = None) -> str:
    """The agent request of a content action, from the API, a consumer group or a consumer
    schedule firing; returns its task id."""
    return request_agent(platform, consumer_id, action, {"units": units, "options": options},
                         [tags.consumer(consumer_id), tags.action(f"unit_{action}")],
                         scheduled_call_id=scheduled_call_id)


def content_action(platform, consumer_id: str, action: str, body) -> CallReport:
    """``install``/``update``/``uninstall`` units on the consumer: an agent request."""
    units, options = _content_request(body)
    get_consumer(platform, consumer_id)
    return CallReport(spawned_tasks=[request_content_action(platform, consumer_id, action,
                                                            units, options)])


def content_action_consumers(platform, consumer_ids: list[str], action: str, body
                             ) -> CallReport:
    """The same content action on every one of ``consumer_ids`` (a consumer group's): one
    agent request each."""
    units, options = _content_request(body)
    return CallReport(spawned_tasks=[request_content_action(platform, c, action, units,
                                                            options) for c in consumer_ids])


def unbind_repository(platform, repo_id: str, distributor_id: str | None = None
                      ) -> tuple[list[str], dict | None]:
    """Unbind every consumer bound to a repository (or one of its distributors) that is
    going away: agent requests spawned, and an error naming the ones that failed."""
    query = {"repo_id": repo_id, **({"distributor_id": distributor_id} if distributor_id
                                    else {})}
    spawned, failed = [], []
    for binding in platform.store.find_bindings(query):
        try:
            spawned += _unbind(platform, binding, True, {})
        except Exception as exc:  # noqa: BLE001 - one consumer must not stop the others
            failed.append({"consumer_id": binding["consumer_id"], "error": str(exc)})
    if not failed:
        return spawned, None
    error_class = DistributorUnbindError if distributor_id else RepositoryUnbindError
    return spawned, error_class("Unbinding consumers failed", failures=failed).to_dict()


def rebind_distributor(platform, repo_id: str, distributor_id: str) -> tuple[list[str],
                                                                             dict | None]:
    """After a distributor update: send each bound consumer's agent the new payload."""
    spawned, failed = [], []
    for binding in platform.store.find_bindings({"repo_id": repo_id,
                                                 "distributor_id": distributor_id,
                                                 "deleted": False}):
        try:
            details = binding_details(platform, binding)
            if binding.get("notify_agent", True):
                spawned.append(_request(platform, binding, "bind",
                                        {**_agent_binding(binding, details), "options": {}}))
        except Exception as exc:  # noqa: BLE001 - one consumer must not stop the others
            failed.append({"consumer_id": binding["consumer_id"], "error": str(exc)})
    error = BindError("Rebinding consumers failed", failures=failed) if failed else None
    return spawned, error.to_dict() if error else None
