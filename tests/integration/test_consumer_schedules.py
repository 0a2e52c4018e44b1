"""Schedules of consumer content actions (``consumers/<id>/schedules/content/<action>/``)
against the real stack and its scheduler: Pulp 2's schedule shape with ``units`` and
``options``, codes, firing as the same agent request as the API's content action, the
agent's results counted toward ``failure_threshold``, and unregistering dropping them."""

from __future__ import annotations

import time
import uuid

API = "/pulp/api/v2"
UNITS = [{"type_id": "rpm", "unit_key": {"name": "zsh"}}]


def register(api) -> str:
    consumer_id = f"c-{uuid.uuid4().hex[:8]}"
    r = api.post(f"{API}/consumers/", json={"id": consumer_id})
    assert r.status_code == 201, r.text
    return consumer_id


def base(consumer_id: str, action: str = "install") -> str:
    return f"{API}/consumers/{consumer_id}/schedules/content/{action}/"


def code(response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


def wait_for(predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return value


def cancel_waiting(api, consumer_id: str) -> None:
    """Requests no agent will take (the schedule fired them): canceled, not left waiting."""
    for task in api.get(f"{API}/tasks/", params={"tag": f"pulp:consumer:{consumer_id}"}).json():
        if task["state"] in ("waiting", "running"):
            api.delete(task["_href"])


def test_crud_shapes_and_codes(api):
    consumer_id = register(api)
    url = base(consumer_id)
    r = api.post(url, json={"schedule": "2030-01-01T00:00:00Z/PT24H", "units": UNITS,
                            "options": {"importkeys": True}, "failure_threshold": 3})
    assert r.status_code == 201, r.text
    created = r.json()
    sid = created["_id"]
    assert r.headers["Location"].endswith(created["_href"])
    assert created["_href"] == f"{url}{sid}/"
    assert created["schedule"] == "2030-01-01T00:00:00Z/PT24H"
    assert created["task"] == "pulp2ng.agent.install" and created["args"] == [consumer_id]
    assert created["kwargs"] == {"units": UNITS, "options": {"importkeys": True},
                                 "scheduled_call_id": sid}
    assert created["resource"] == f"pulp:consumer:{consumer_id}"
    assert created["enabled"] is True and created["failure_threshold"] == 3
    assert created["consecutive_failures"] == 0 and created["total_run_count"] == 0
    assert created["remaining_runs"] is None and created["last_run_at"] is None
    assert created["next_run"].startswith("2030-01-01T00:00:00")
    # Defaults: options {}, no threshold, enabled.
    plain = api.post(base(consumer_id, "uninstall"), json={"schedule": "PT6H", "units": []})
    assert plain.status_code == 201, plain.text
    assert plain.json()["kwargs"]["options"] == {} and plain.json()["failure_threshold"] is None
    assert plain.json()["task"] == "pulp2ng.agent.uninstall"

    # Each action lists its own schedules; an item is reached only under its own path.
    assert api.get(url).json() == [created]
    assert api.get(base(consumer_id, "update")).json() == []
    assert api.get(f"{url}{sid}/").json() == created
    assert code(api.get(f"{base(consumer_id, 'update')}{sid}/"), 404) == "PLP0009"
    other = register(api)
    assert code(api.get(f"{base(other)}{sid}/"), 404) == "PLP0009"

    updated = api.put(f"{url}{sid}/", json={
        "units": [{"type_id": "rpm", "unit_key": {"name": "bash"}}], "options": {},
        "schedule": "R2/PT1H", "enabled": False, "failure_threshold": None})
    assert updated.status_code == 200, updated.text
    doc = updated.json()
    assert doc["kwargs"]["units"] == [{"type_id": "rpm", "unit_key": {"name": "bash"}}]
    assert doc["kwargs"]["options"] == {} and doc["schedule"] == "R2/PT1H"
    assert doc["enabled"] is False and doc["failure_threshold"] is None
    assert doc["remaining_runs"] == 2
    assert api.get(f"{url}{sid}/").json() == doc

    # Bad input: 400 with Pulp's codes, nothing stored.
    assert code(api.post(url, json={"schedule": "every day", "units": UNITS}), 400) == "PLP1010"
    assert code(api.post(url, json={"schedule": "PT1H"}), 400) == "PLP1004"
    assert code(api.post(url, json={"units": UNITS}), 400) == "PLP1004"
    assert code(api.post(url, json={"schedule": "PT1H", "units": UNITS, "bogus": 1}),
                400) == "PLP1005"
    assert code(api.post(url, json={"schedule": "PT1H", "units": [{"unit_key": {}}]}),
                400) in ("PLP1004", "PLP1010")
    assert code(api.post(url, json={"schedule": "PT1H", "units": "zsh"}), 400) == "PLP1010"
    assert code(api.post(url, json={"schedule": "PT1H", "units": [{"type_id": "rpm",
                                                                   "unit_key": "zsh"}]}),
                400) == "PLP1010"
    assert code(api.post(url, json={"schedule": "PT1H", "units": UNITS, "options": []}),
                400) == "PLP1010"
    assert code(api.post(url, json={"schedule": "PT1H", "units": UNITS,
                                    "failure_threshold": 0}), 400) == "PLP1010"
    assert code(api.put(f"{url}{sid}/", json={"units": [{"type_id": 5, "unit_key": {}}]}),
                400) == "PLP1010"
    assert code(api.put(f"{url}{sid}/", json={"schedule": "P"}), 400) == "PLP1010"
    assert code(api.put(f"{url}{sid}/", json={"override_config": {}}), 400) == "PLP1005"
    assert [s["_id"] for s in api.get(url).json()] == [sid]
    assert api.get(f"{url}{sid}/").json() == doc

    # Unknown consumer, schedule or action: 404.
    missing = base("no-such-consumer")
    assert code(api.get(missing), 404) == "PLP0009"
    assert code(api.post(missing, json={"schedule": "PT1H", "units": UNITS}), 404) == "PLP0009"
    assert code(api.get(f"{missing}{sid}/"), 404) == "PLP0009"
    assert code(api.get(f"{url}no-such-schedule/"), 404) == "PLP0009"
    assert code(api.put(f"{url}no-such-schedule/", json={"enabled": True}), 404) == "PLP0009"
    assert code(api.delete(f"{url}no-such-schedule/"), 404) == "PLP0009"
    assert code(api.get(f"{API}/consumers/{consumer_id}/schedules/content/frobnicate/"),
                404) == "PLP0009"

    deleted = api.delete(f"{url}{sid}/")
    assert deleted.status_code == 200 and deleted.json() is None
    assert code(api.get(f"{url}{sid}/"), 404) == "PLP0009"
    assert api.get(url).json() == []


def test_a_due_schedule_requests_the_agent_and_counts_its_results(api):
    consumer_id = register(api)
    url = base(consumer_id)
    options = {"reboot": False}
    schedule = api.post(url, json={"schedule": "R2/PT1S", "units": UNITS,
                                   "options": options}).json()
    # Both runs fire (remaining_runs 0 disables the schedule), as waiting agent requests.
    wait_for(lambda: api.get(schedule["_href"]).json()["total_run_count"] == 2)
    tasks = api.get(f"{API}/tasks/", params={"tag": [f"pulp:consumer:{consumer_id}",
                                                     "pulp:action:unit_install"]}).json()
    assert len(tasks) == 2
    for task in tasks:
        assert task["state"] == "waiting" and task["worker_name"] == "agent"
        assert task["task_type"] == "pulp2ng.agent.install"
        assert task["tags"] == [f"pulp:consumer:{consumer_id}", "pulp:action:unit_install"]
    done = api.get(schedule["_href"]).json()
    assert done["enabled"] is False and done["remaining_runs"] == 0 and done["last_run_at"]

    # The agent's side: the requests carry the schedule's units and options.
    agent = f"{API}/consumers/{consumer_id}/agent/requests/"
    claimed = api.get(agent, params={"wait": 0}).json()
    assert sorted(c["task_id"] for c in claimed) == sorted(t["task_id"] for t in tasks)
    for request in claimed:
        assert request["action"] == "install"
        assert request["payload"] == {"units": UNITS, "options": options}
    # A failure counts, a success resets the count.
    first, second = claimed
    r = api.post(f"{agent}{first['task_id']}/", json={"succeeded": False,
                                                      "details": {"message": "no yum"}})
    assert r.status_code == 200 and r.json()["state"] == "error"
    assert api.get(schedule["_href"]).json()["consecutive_failures"] == 1
    r = api.post(f"{agent}{second['task_id']}/", json={"succeeded": True, "details": {}})
    assert r.status_code == 200 and r.json()["state"] == "finished"
    assert api.get(schedule["_href"]).json()["consecutive_failures"] == 0


def test_failures_disable_a_schedule_at_its_threshold(api):
    consumer_id = register(api)
    agent = f"{API}/consumers/{consumer_id}/agent/requests/"
    schedule = api.post(base(consumer_id, "update"), json={
        "schedule": "PT1S", "units": UNITS, "failure_threshold": 2}).json()
    failed = 0

    def fail_what_fired():
        nonlocal failed
        for request in api.get(agent, params={"wait": 0}).json():
            assert request["action"] == "update"
            r = api.post(f"{agent}{request['task_id']}/", json={"succeeded": False})
            assert r.status_code == 200, r.text
            failed += 1
        return not api.get(schedule["_href"]).json()["enabled"]

    try:
        wait_for(fail_what_fired)
        state = api.get(schedule["_href"]).json()
        assert failed >= 2 and state["consecutive_failures"] >= 2
        runs = state["total_run_count"]
        time.sleep(2.5)  # disabled: it fires no more
        assert api.get(schedule["_href"]).json()["total_run_count"] == runs
        # Enabling it again starts the count afresh.
        again = api.put(schedule["_href"], json={"enabled": True,
                                               "schedule": "2030-01-01T00:00:00Z/PT1H"}).json()
        assert again["enabled"] is True and again["consecutive_failures"] == 0
    finally:
        cancel_waiting(api, consumer_id)


def test_unregistering_a_consumer_deletes_its_schedules(api):
    consumer_id = register(api)
    for action in ("install", "update", "uninstall"):
        assert api.post(base(consumer_id, action), json={
            "schedule": "2030-01-01T00:00:00Z/P1D", "units": UNITS}).status_code == 201
    assert api.delete(f"{API}/consumers/{consumer_id}/").status_code == 200
    for action in ("install", "update", "uninstall"):
        assert code(api.get(base(consumer_id, action)), 404) == "PLP0009"
    # Registered again under the same id, the consumer starts with no schedule.
    assert api.post(f"{API}/consumers/", json={"id": consumer_id}).status_code == 201
    for action in ("install", "update", "uninstall"):
        assert api.get(base(consumer_id, action)).json() == []
    # A due schedule goes with its consumer: it never fires an agent request.
    assert api.post(base(consumer_id), json={"schedule": "R1/PT1S",
                                             "units": UNITS}).status_code == 201
    assert api.delete(f"{API}/consumers/{consumer_id}/").status_code == 200
    time.sleep(2.5)
    tasks = api.get(f"{API}/tasks/", params={"tag": f"pulp:consumer:{consumer_id}"}).json()
    assert [t for t in tasks if "pulp:action:unit_install" in t["tags"]] == []
