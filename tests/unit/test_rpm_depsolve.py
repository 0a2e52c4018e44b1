"""The copy solver (importers/rpm/depsolve.py) over unit documents shaped as sync stores them."""

from pulp2ng.importers.rpm.copy import parse_nevra
from pulp2ng.importers.rpm.depsolve import SourcePool


def pkg(name, version, requires=(), provides=(), files=(), arch="noarch"):
    def dep(text):
        if text.startswith("("):
            return {"name": text, "flags": None, "epoch": None, "version": None,
                    "release": None}
        parts = text.split()
        if len(parts) == 3:
            flag = {">=": "GE", "<=": "LE", "=": "EQ", ">": "GT", "<": "LT"}[parts[1]]
            return {"name": parts[0], "flags": flag, "epoch": "0", "version": parts[2],
                    "release": None}
        return {"name": text, "flags": None, "epoch": None, "version": None, "release": None}

    return {"_id": f"{name}-{version}-{arch}", "_content_type_id": "rpm", "name": name,
            "epoch": "0", "version": version, "release": "1", "arch": arch,
            "checksumtype": "sha256", "checksum": f"{name}{version}",
            "requires": [dep(r) for r in requires], "files": {"file": list(files)},
            "provides": [dep(p) for p in provides]}


SOURCE = [
    pkg("base", "1.0"), pkg("base", "1.2"), pkg("lib", "1.0", ["base >= 1.0"]),
    pkg("walrus", "1.0", ["lib"]), pkg("walrus", "1.1", ["lib >= 1.0", "rpmlib(Foo) <= 4"]),
    pkg("seal", "1.0", ["(base >= 1.1 or penguin)"]), pkg("penguin", "1.0"),
    pkg("shell", "1.0", files=["/bin/fish"]), pkg("fishy", "1.0", ["/bin/fish"]),
    pkg("broken", "1.0", ["nowhere"]), pkg("vprov", "1.0", provides=["ice = 2.0"]),
    pkg("needs-ice", "1.0", ["ice >= 2"]),
]


def pool(target=(), conservative=False):
    made = SourcePool(with_deps=True)
    for unit in SOURCE:
        made.add_source(unit)
    for unit in target:
        made.add_target(unit, conservative)
    return made


def solved(made, *ids):
    units, unmet = made.solve(list(ids))
    return sorted(u["_id"] for u in units), unmet


def test_recursive_takes_the_newest_satisfying_provider():
    assert solved(pool(), "walrus-1.0-noarch") == (
        ["base-1.2-noarch", "lib-1.0-noarch", "walrus-1.0-noarch"], [])
    # both walrus builds selected: no conflict between two versions of one name
    assert solved(pool(), "walrus-1.0-noarch", "walrus-1.1-noarch")[0] == [
        "base-1.2-noarch", "lib-1.0-noarch", "walrus-1.0-noarch", "walrus-1.1-noarch"]


def test_conservative_skips_what_the_target_satisfies():
    old_base = pkg("base", "1.0")
    ids, _ = solved(pool([old_base], conservative=True), "walrus-1.0-noarch")
    assert ids == ["lib-1.0-noarch", "walrus-1.0-noarch"]
    # not conservative: the newest of the source even though the target has one
    ids, _ = solved(pool([old_base]), "walrus-1.0-noarch")
    assert ids == ["base-1.2-noarch", "lib-1.0-noarch", "walrus-1.0-noarch"]


def test_rich_file_and_versioned_provides():
    ids, _ = solved(pool(), "seal-1.0-noarch")
    assert ids[-1] == "seal-1.0-noarch" and len(ids) == 2
    assert ids[0] in ("base-1.2-noarch", "penguin-1.0-noarch")
    # the target's penguin satisfies the "or": nothing else comes
    assert solved(pool([pkg("penguin", "0.5")], conservative=True), "seal-1.0-noarch")[0] == [
        "seal-1.0-noarch"]
    # base 1.0 does not satisfy "base >= 1.1": a provider is still copied
    ids, _ = solved(pool([pkg("base", "1.0")], conservative=True), "seal-1.0-noarch")
    assert len(ids) == 2
    assert solved(pool(), "fishy-1.0-noarch")[0] == ["fishy-1.0-noarch", "shell-1.0-noarch"]
    assert solved(pool(), "needs-ice-1.0-noarch")[0] == ["needs-ice-1.0-noarch",
                                                         "vprov-1.0-noarch"]


def test_unmet_dependencies_are_reported_not_fatal():
    ids, unmet = solved(pool(), "broken-1.0-noarch", "lib-1.0-noarch")
    assert ids == ["base-1.2-noarch", "lib-1.0-noarch"]
    assert unmet == ["broken-1.0-1.noarch"]


def test_newest_and_nevra_lookup():
    made = pool()
    assert [u["_id"] for u in made.newest(["base", "walrus", "absent"])] == [
        "base-1.2-noarch", "walrus-1.1-noarch"]
    assert [u["_id"] for u in made.find_nevra("lib", "0", "1.0", "1", "noarch")] == [
        "lib-1.0-noarch"]
    assert parse_nevra("a-b-1:2.0-3.el9.x86_64") == ("a-b", "1", "2.0", "3.el9", "x86_64")
    assert parse_nevra("nodots") is None
