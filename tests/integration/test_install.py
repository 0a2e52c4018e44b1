"""A regular (non-editable) install imports under ``pulp2ng.*`` and starts."""

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import requests

from tests.stack import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Source folder → import name (setup.py's package_dir).
SOURCE_ROOTS = {"pulp2ng": "pulp2ng", "server": "pulp2ng.server",
                "importers": "pulp2ng.importers", "distributors": "pulp2ng.distributors"}


def source_modules() -> list[str]:
    """The import name of every module in the source tree."""
    names = []
    for folder, package in SOURCE_ROOTS.items():
        base = Path(ROOT, folder)
        for path in base.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join([package, *parts]))
    return sorted(names)


def test_wheel_installs_imports_and_starts(tmp_path, database):
    # Built from a copy without the checkout's build/ (setuptools' build/lib keeps files from
    # earlier builds and would put a module the packaging now misses back into the wheel).
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "var", "*.egg-info", "__pycache__", "tests"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(dist),
                    str(src)], check=True, capture_output=True)
    [wheel] = list(dist.glob("pulp2ng-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig;"
                           "print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # Dependencies come from the test environment; pulp2ng itself only from the wheel (a
    # path entry does not run the editable install's .pth hook, so it cannot leak in).
    with open(os.path.join(site, "deps.pth"), "w") as fh:
        fh.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    probe = subprocess.run(
        [str(venv / "bin/python"), "-c",
         "import pulp2ng, pulp2ng.server.app, pulp2ng.importers.iso.importer, "
         "pulp2ng.distributors.iso.distributor; from pulp2ng.config import load_settings;"
         "print(pulp2ng.__file__); print(load_settings().get('server', 'host'))"],
        check=True, capture_output=True, text=True, cwd=tmp_path).stdout.split()
    assert probe[0].startswith(str(venv)) and probe[1] == "127.0.0.1"
    # Every module of the source tree is in the wheel: a package the packaging misses
    # passes the rest of the suite (an editable install) and breaks only ``pip install .``.
    modules = source_modules()
    assert "pulp2ng.content.download" in modules and "pulp2ng.server.blueprints" in modules
    imported = subprocess.run(
        [str(venv / "bin/python"), "-c",
         "import importlib, sys\n"
         "for name in sys.argv[1:]:\n"
         "    try:\n"
         "        print(name, importlib.import_module(name).__file__)\n"
         "    except ImportError as exc:\n"
         "        print(name, 'MISSING', exc)\n", *modules],
        check=True, capture_output=True, text=True, cwd=tmp_path).stdout.splitlines()
    not_installed = [line for line in imported
                     if not line.split(" ", 1)[1].startswith(str(venv))]
    assert len(imported) == len(modules) and not_installed == []

    port = free_port()
    env = {**os.environ, "PULP2NG_DATABASE_URL": database, "PULP2NG_DATABASE_NAME": "wheel",
           "PULP2NG_SERVER_PORT": str(port), "PULP2NG_STORAGE_DIR": str(tmp_path / "s"),
           # the test plugin's entry points are visible through deps.pth; make it importable
           "PYTHONPATH": os.path.join(ROOT, "tests", "plugins")}
    api = subprocess.Popen([str(venv / "bin/pulp2ng"), "api"], env=env, cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/pulp/api/v2/status/", timeout=2)
                break
            except requests.ConnectionError:
                assert api.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert status.json()["database_connection"]["connected"] is True
        importers = requests.get(f"http://127.0.0.1:{port}/pulp/api/v2/plugins/importers/",
                                 auth=("admin", "admin")).json()
        assert "iso_importer" in {i["id"] for i in importers}
        # The dashboard's templates and assets are package data of the wheel.
        login = requests.get(f"http://127.0.0.1:{port}/pulp/ui/login/")
        assert login.status_code == 200 and 'id="login-form"' in login.text
        for asset in ("dashboard.css", "tasks.js"):
            served = requests.get(f"http://127.0.0.1:{port}/pulp/ui/static/{asset}")
            assert served.status_code == 200 and served.content == \
                Path(ROOT, "server", "ui", "static", asset).read_bytes()
    finally:
        api.terminate()
        api.wait(10)


def test_user_instance_does_not_load_the_test_plugin(make_stack):
    """The test plugin is installed in the same venv (``make``), yet an instance started
    without ``PULP2NG_TEST_PLUGINS`` (as ``make run`` and users do) never advertises it."""
    user = make_stack(workers=1, extra_env={"PULP2NG_TEST_PLUGINS": ""})
    importers = {p["id"] for p in user.api.get("/pulp/api/v2/plugins/importers/").json()}
    distributors = {p["id"] for p in user.api.get("/pulp/api/v2/plugins/distributors/").json()}
    types = {t["id"] for t in user.api.get("/pulp/api/v2/plugins/types/").json()}
    assert "iso_importer" in importers and "ostree_web_importer" in importers
    assert not {"harness_importer", "demo_importer"} & importers
    assert not {"harness_distributor", "demo_distributor"} & distributors
    assert "harness_unit" not in types and "iso" in types
    test = make_stack(workers=1)  # the suite's stacks do load it
    importers = {p["id"] for p in test.api.get("/pulp/api/v2/plugins/importers/").json()}
    assert {"harness_importer", "demo_importer"} <= importers
