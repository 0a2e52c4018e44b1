"""A small plugin, installed like any third-party one, that the platform tests drive.

``harness_importer`` creates ``num_units`` units, can ``sleep`` (cooperatively cancelable)
and ``fail``; ``harness_distributor`` publishes the unit names into a tree (and gives bound consumers its
URL), and with ``fail_removal`` its removal hook raises. Configs with an ``invalid`` key are rejected, so
validation paths can be tested.
"""

import time

from pulp2ng.plugin import (
    Distributor,
    Importer,
    PublishReport,
    SyncError,
    SyncReport,
    UnitType,
    consumer_payload_base,
)

UNIT_TYPES = [UnitType("harness_unit", "Harness unit", ("name",), "Units made by the harness")]


def _validate(config):
    if config.get("invalid") is not None:
        return False, "the harness rejects configs with an 'invalid' key"
    return True, None


class HarnessImporter(Importer):
    @classmethod
    def metadata(cls):
        return {"id": "harness_importer", "display_name": "Harness importer",
                "types": ["harness_unit"]}

    def validate_config(self, repo, config):
        return _validate(config)

    def sync_repo(self, repo, conduit, config):
        began = time.time()
        deadline = time.monotonic() + float(config.get("sleep", 0))
        while time.monotonic() < deadline:
            conduit.check_canceled()
            conduit.set_progress({"state": "sleeping"})
            time.sleep(0.02)
        if config.get_boolean("fail", False):
            raise SyncError("the harness was told to fail")
        count = int(config.get("num_units", 0))
        prefix = config.get("prefix", "unit")
        conduit.save_units("harness_unit", [{"name": f"{prefix}-{i}"} for i in range(count)])
        conduit.set_progress({"state": "finished", "units": count}, force=True)
        # Wall-clock marks with sub-second precision let tests prove tasks never overlapped.
        return SyncReport(True, summary={"units": count, "began": began, "ended": time.time()})


class DemoImporter(HarnessImporter):
    @classmethod
    def metadata(cls):
        return {"id": "demo_importer", "display_name": "Demo importer",
                "types": ["harness_unit"]}


class HarnessDistributor(Distributor):
    web_areas = {"/pulp/harness/": "harness"}

    @classmethod
    def metadata(cls):
        return {"id": "harness_distributor", "display_name": "Harness distributor",
                "types": ["harness_unit"]}

    def validate_config(self, repo, config, config_conduit):
        return _validate(config)

    def publish_location(self, repo, config):
        return "harness", config.get("relative_url") or repo["id"]

    def publish_repo(self, repo, conduit, config):
        names = sorted(u["name"] for u in conduit.repo_units("harness_unit", ["name"]))
        with conduit.publish_dir(*self.publish_location(repo, config)) as tree:
            (tree / "units.txt").write_text("\n".join(names) + "\n")
        return PublishReport(True, summary={"units": len(names)})

    def distributor_removed(self, repo, config, conduit):
        if config.get_boolean("fail_removal", False):
            raise RuntimeError("harness distributor told to fail its removal")

    def create_consumer_payload(self, repo, config, binding_config, server):
        relative = config.get("relative_url") or repo["id"]
        payload = consumer_payload_base(server, binding_config, relative)
        payload["url"] = f"{payload['server_url']}/pulp/harness/{relative}/"
        return payload


class DemoDistributor(HarnessDistributor):
    #: No consumer payload: what a distributor type consumers cannot bind to answers.
    create_consumer_payload = Distributor.create_consumer_payload

    @classmethod
    def metadata(cls):
        return {"id": "demo_distributor", "display_name": "Demo distributor",
                "types": ["harness_unit"]}
