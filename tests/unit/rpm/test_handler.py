"""The rpm handler's pieces that need no dnf: the agent routes erratum and group actions to
it, and unit keys become dnf specs (never options)."""

import pytest

from pulp2ng.agent.handlers import Handlers
from pulp2ng.distributors.rpm.handler import RpmHandler, _split
from pulp2ng.plugin import HandlerError


def test_agent_routes_rpm_erratum_and_group_actions_to_the_rpm_handler(tmp_path):
    handlers = Handlers(tmp_path)
    for type_id in ("rpm", "erratum", "package_group"):
        assert isinstance(handlers.for_content(type_id), RpmHandler)
    assert isinstance(handlers.for_distributor("yum_distributor"), RpmHandler)


def test_unit_keys_become_dnf_specs():
    units = [{"type_id": "rpm", "unit_key": {"name": "bash", "epoch": "1", "version": "5.1",
                                             "release": "2.fc38", "arch": "x86_64"}},
             {"type_id": "rpm", "unit_key": {"name": "zsh", "epoch": "0", "version": "5.9"}},
             {"type_id": "rpm", "unit_key": {"name": "vim"}},
             {"type_id": "erratum", "unit_key": {"id": "RHSA-2026:0001"}},
             {"type_id": "package_group", "unit_key": {"id": "core", "repo_id": "r"}}]
    assert _split(units) == (["bash-1:5.1-2.fc38.x86_64", "zsh-5.9", "vim"], ["core"],
                             ["RHSA-2026:0001"])
    assert _split(units[:2], pinned=False)[0] == ["bash", "zsh"]
    for bad in ({"type_id": "rpm", "unit_key": {"name": "-y"}},
                {"type_id": "rpm", "unit_key": {"name": "a b"}},
                {"type_id": "erratum", "unit_key": {"id": "--advisory=x"}},
                {"type_id": "docker_image", "unit_key": {"name": "x"}}):
        with pytest.raises(HandlerError):
            _split([bad])


def test_bind_refuses_a_payload_without_url_and_unbind_of_nothing(tmp_path):
    handler = RpmHandler(tmp_path)
    with pytest.raises(HandlerError):
        handler.bind({"repo_id": "r", "distributor_id": "d", "details": {}})
    assert handler.unbind("r", "d") == {"removed": False}
    with pytest.raises(HandlerError):
        handler.repo_file("../etc")
