"""The RPM applicability calculators on plain documents (the stack-level flow is in
tests/integration/test_rpm_applicability.py)."""

from pulp2ng.importers.rpm.applicability import ModulemdApplicability, RpmApplicability


def rpm(uid, name, version, release="1", epoch="0", arch="x86_64"):
    return {"_id": uid, "name": name, "epoch": epoch, "version": version, "release": release,
            "arch": arch}


def installed(name, version, release="1", epoch=0, arch="x86_64"):
    return {"name": name, "epoch": epoch, "version": version, "release": release, "arch": arch,
            "vendor": "Fixtures"}


def erratum(uid, *packages):
    return {"_id": uid, "pkglist": [{"name": "c", "short": "c", "packages": [
        {"name": n, "epoch": e, "version": v, "release": r, "arch": a}
        for n, e, v, r, a in packages]}]}


REPO = [rpm("k9", "kernel", "5.9"), rpm("k10", "kernel", "5.10"), rpm("k10b", "kernel", "5.10"),
        rpm("kold", "kernel", "5.4"), rpm("ki", "kernel", "5.10", arch="i686"),
        rpm("b", "bash", "5.1", epoch="1"), rpm("z", "zsh", "5.9")]


def test_newest_newer_evr_of_an_installed_name_and_arch():
    calc = RpmApplicability()
    profile = [installed("kernel", "5.4"), installed("kernel", "5.8"),
               installed("bash", "9.9", epoch=0)]
    found = calc.applicable(profile, {"rpm": REPO, "erratum": []})
    # two builds of the newest kernel; not i686, not zsh; bash 1:5.1 beats 0:9.9
    assert found == {"rpm": ["b", "k10", "k10b"], "erratum": []}
    assert calc.applicable([installed("kernel", "5.10")], {"rpm": REPO, "erratum": []}) == {
        "rpm": [], "erratum": []}


def test_erratum_applies_when_it_updates_an_installed_package_present_in_the_repo():
    calc = RpmApplicability()
    errata = [erratum("up", ("kernel", "0", "5.9", "1", "x86_64")),
              erratum("same", ("kernel", "0", "5.4", "1", "x86_64")),
              erratum("other-arch", ("kernel", "0", "5.10", "1", "i686"),
                      ("zsh", "0", "5.9", "1", "x86_64")),
              erratum("absent", ("kernel", "0", "6.0", "1", "x86_64"))]
    found = calc.applicable([installed("kernel", "5.4")], {"rpm": REPO, "erratum": errata})
    assert found["erratum"] == ["up"]


def test_profile_validation():
    calc = RpmApplicability()
    assert calc.validate_profile([installed("a", "1")]) is None
    assert calc.validate_profile([{**installed("a", "1"), "epoch": "2"}]) is None
    assert "list" in calc.validate_profile({"name": "a"})
    assert "profile[1]" in calc.validate_profile([installed("a", "1"), {"name": "b"}])
    assert "epoch" in calc.validate_profile([{**installed("a", "1"), "epoch": "x"}])


def module(uid, name, stream, version, context="c1", arch="x86_64"):
    return {"_id": uid, "name": name, "stream": stream, "version": version,
            "context": context, "arch": arch}


def test_modulemd_newest_version_of_an_enabled_stream():
    calc = ModulemdApplicability()
    units = {"modulemd": [module("n1", "nginx", "1.20", 1), module("n2", "nginx", "1.20", 2),
                          module("n2b", "nginx", "1.20", 2, context="c2"),
                          module("n3", "nginx", "1.22", 3), module("p", "perl", "5", 9)]}
    profile = [{"name": "nginx", "stream": "1.20", "version": 1, "arch": "x86_64",
                "status": "enabled"},
               {"name": "perl", "stream": "5", "version": 9, "status": "disabled"}]
    assert calc.applicable(profile, units) == {"modulemd": ["n2", "n2b"]}
    assert calc.applicable([{"name": "nginx", "stream": "1.20"}], units) == {
        "modulemd": ["n2", "n2b"]}
    assert calc.applicable([{"name": "nginx", "stream": "1.20", "arch": "aarch64"}],
                           units) == {"modulemd": []}
    assert calc.validate_profile([{"name": "nginx", "stream": "1.20", "version": "x"}])
    assert calc.validate_profile([{"name": "nginx", "stream": "1.20", "version": "2"}]) is None
