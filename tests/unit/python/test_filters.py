"""Selection rules of the Python importer, using the sync guide's examples verbatim."""

import pytest

from pulp2ng.importers.python.filters import Selection, parse_selection, validate_config
from pulp2ng.importers.python.index import FileInfo

DJANGO_SHA256 = "3d9916515599f757043c690ae2b5ea28666afa09779636351da505396cbb2f19"
SCIPY_MD5 = "044af71389ac2ad3d3ece24d0baf4c07"
SCIPY_SHA256 = "18b572502ce0b17e3b4bfe50dcaea414a98290358a2fa080c36066ba0651ec14"
OTHER_SHA256 = "0" * 64


def info(filename, sha256=OTHER_SHA256, **hashes):
    """A FileInfo as an index would list it."""
    hashes = {"sha256": sha256, **hashes}
    return FileInfo(filename=filename, url=f"http://idx/packages/{filename}", sha256=sha256,
                    hashes=hashes)


DJANGO = [
    info("Django-1.11.tar.gz"),
    info("Django-1.11.29-py2.py3-none-any.whl"),
    info("Django-2.0.tar.gz"),
    info("Django-2.0-py3-none-any.whl"),
    info("Django-2.0.1-py3-none-any.whl"),
    info("Django-2.0.5-py3-none-any.whl", sha256=DJANGO_SHA256),
    info("Django-2.0.5.tar.gz"),
    info("Django-2.1.tar.gz"),
    info("Django-2.2b1-py3-none-any.whl"),
    info("Django-3.0-py3-none-any.whl"),
]
PIP_TOOLS = [
    info("pip-tools-1.11.0.tar.gz"),
    info("pip-tools-1.12.0.tar.gz"),
    info("pip_tools-1.12.0-py2.py3-none-any.whl"),
    info("pip-tools-2.0.0rc1.tar.gz"),
    info("pip-tools-2.0.0.tar.gz"),
    info("pip-tools-2.0.1.tar.gz"),
]
SCIPY = [
    info("scipy-1.0.0.tar.gz", md5=SCIPY_MD5),
    info("scipy-1.1.0.tar.gz", sha256=SCIPY_SHA256),
    info("scipy-1.2.0.tar.gz"),
]
SHELF = [info("shelf-reader-0.1.tar.gz"), info("shelf_reader-0.2-py3-none-any.whl")]
NUMPY = [
    info("numpy-1.26.0.tar.gz"),
    info("numpy-1.26.0-cp311-cp311-win_amd64.whl"),
    info("numpy-1.26.0-cp311-cp311-win32.whl"),
    info("numpy-1.26.0-cp311-cp311-macosx_11_0_arm64.whl"),
    info("numpy-1.26.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    info("numpy-1.26.0-cp311-cp311-musllinux_1_1_x86_64.whl"),
    info("numpy-1.26.0-pp39-pypy39_pp73-freebsd_13_x86_64.whl"),
    info("numpy-1.26.0-py3-none-any.whl"),
]


def names(files):
    """File names, in the order select() returned them."""
    return [f.filename for f in files]


def select(config, project, files):
    """Parse a config and run it over one project."""
    return names(parse_selection(config).select(project, files))


def test_guide_simple_remote_django_compatible_release():
    config = {"includes": [{"name": "django", "version_specifier": "~=2.0"}]}
    assert select(config, "Django", DJANGO) == [
        "Django-2.0-py3-none-any.whl",
        "Django-2.0.tar.gz",
        "Django-2.0.1-py3-none-any.whl",
        "Django-2.0.5-py3-none-any.whl",
        "Django-2.0.5.tar.gz",
        "Django-2.1.tar.gz",
    ]


COMPLEX_INCLUDES = [
    {"name": "django",
     "version_specifier": "~=2.0,!=2.0.1",
     "digests": [
         {"type": "sha256",
          "digest": "3d9916515599f757043c690ae2b5ea28666afa09779636351da505396cbb2f19"}]},
    {"name": "pip-tools",
     "version_specifier": ">=1.12,<=2.0"},
    {"name": "scipy",
     "digests": [
         {"type": "md5",
          "digest": "044af71389ac2ad3d3ece24d0baf4c07"},
         {"type": "sha256",
          "digest": "18b572502ce0b17e3b4bfe50dcaea414a98290358a2fa080c36066ba0651ec14"}]},
    {"name": "shelf-reader"},
]


def test_guide_complex_remote():
    selection = parse_selection({"includes": COMPLEX_INCLUDES})
    assert selection.project_names == ["django", "pip-tools", "scipy", "shelf-reader"]
    assert names(selection.select("django", DJANGO)) == ["Django-2.0.5-py3-none-any.whl"]
    assert names(selection.select("pip-tools", PIP_TOOLS)) == [
        "pip-tools-1.12.0.tar.gz",
        "pip_tools-1.12.0-py2.py3-none-any.whl",
        "pip-tools-2.0.0.tar.gz",
    ]
    assert names(selection.select("scipy", SCIPY)) == ["scipy-1.0.0.tar.gz", "scipy-1.1.0.tar.gz"]
    assert names(selection.select("Shelf_Reader", SHELF)) == names(SHELF)
    assert selection.select("numpy", NUMPY) == []
    assert not selection.wants_project("numpy")


def test_guide_excludes():
    config = {
        "includes": [
            {"name": "django", "version_specifier": ""},
            {"name": "scipy", "version_specifier": ""},
        ],
        "excludes": [
            {"name": "django", "version_specifier": "~=1.0"},
            {"name": "scipy", "digests": [
                {"type": "md5",
                 "digest": "044af71389ac2ad3d3ece24d0baf4c07"},
                {"type": "sha256",
                 "digest": "18b572502ce0b17e3b4bfe50dcaea414a98290358a2fa080c36066ba0651ec14"}]},
        ],
    }
    assert select(config, "django", DJANGO) == [
        "Django-2.0-py3-none-any.whl",
        "Django-2.0.tar.gz",
        "Django-2.0.1-py3-none-any.whl",
        "Django-2.0.5-py3-none-any.whl",
        "Django-2.0.5.tar.gz",
        "Django-2.1.tar.gz",
        "Django-3.0-py3-none-any.whl",
    ]
    assert select(config, "scipy", SCIPY) == ["scipy-1.2.0.tar.gz"]


def test_pep508_strings_match_object_form():
    config = {"includes": ["django~=2.0,!=2.0.1", "pip-tools>=1.12,<=2.0", "shelf-reader"]}
    assert select(config, "django", DJANGO) == [
        "Django-2.0-py3-none-any.whl",
        "Django-2.0.tar.gz",
        "Django-2.0.5-py3-none-any.whl",
        "Django-2.0.5.tar.gz",
        "Django-2.1.tar.gz",
    ]
    assert select(config, "pip-tools", PIP_TOOLS) == select(
        {"includes": [COMPLEX_INCLUDES[1]]}, "pip-tools", PIP_TOOLS)
    assert select(config, "shelf_reader", SHELF) == names(SHELF)


def test_bare_name_exclude_drops_project_even_from_whole_index():
    selection = parse_selection({"excludes": ["django"]})
    assert selection.project_names is None  # whole index
    assert selection.select("django", DJANGO) == []
    assert not selection.wants_project("Django")
    assert names(selection.select("scipy", SCIPY)) == names(SCIPY)
    listed = parse_selection({"package_names": "django,scipy", "excludes": ["Django"]})
    assert listed.project_names == ["scipy"]


def test_pep508_exclude_range():
    config = {"package_names": "django", "excludes": ["django<2.0", "django>=2.1"]}
    assert select(config, "django", DJANGO) == [
        "Django-2.0-py3-none-any.whl",
        "Django-2.0.tar.gz",
        "Django-2.0.1-py3-none-any.whl",
        "Django-2.0.5-py3-none-any.whl",
        "Django-2.0.5.tar.gz",
    ]


def test_package_names_string_and_list_mean_all_final_versions():
    for value in ("django, shelf-reader", ["django", "shelf-reader"]):
        selection = parse_selection({"package_names": value})
        assert selection.project_names == ["django", "shelf-reader"]
        assert "Django-2.2b1-py3-none-any.whl" not in names(selection.select("django", DJANGO))
        assert len(selection.select("django", DJANGO)) == len(DJANGO) - 1


def test_no_includes_means_whole_index():
    selection = parse_selection({})
    assert selection.project_names is None
    assert selection.wants_project("anything")
    assert names(selection.select("shelf-reader", SHELF)) == names(SHELF)
    assert parse_selection({"package_names": "", "includes": []}).project_names is None


def test_prereleases():
    assert "Django-2.2b1-py3-none-any.whl" not in select({}, "django", DJANGO)
    assert "Django-2.2b1-py3-none-any.whl" in select({"prereleases": True}, "django", DJANGO)
    assert "pip-tools-2.0.0rc1.tar.gz" in select(
        {"includes": ["pip-tools>=1.12,<=2.0"], "prereleases": True}, "pip-tools", PIP_TOOLS)
    # A specifier naming a pre-release admits pre-releases (packaging's rule) ...
    assert select({"includes": ["django==2.2b1"]}, "django", DJANGO) == [
        "Django-2.2b1-py3-none-any.whl"]
    assert select({"includes": ["django>=2.2b1"]}, "django", DJANGO) == [
        "Django-2.2b1-py3-none-any.whl", "Django-3.0-py3-none-any.whl"]
    # ... and the switch arrives as a string from Pulp 2 style clients.
    assert parse_selection({"prereleases": "True"}).prereleases is True


def test_excludes_also_remove_prereleases_in_range():
    config = {"prereleases": True, "excludes": ["django~=2.1"]}
    assert select(config, "django", DJANGO) == [
        "Django-1.11.tar.gz",
        "Django-1.11.29-py2.py3-none-any.whl",
        "Django-2.0-py3-none-any.whl",
        "Django-2.0.tar.gz",
        "Django-2.0.1-py3-none-any.whl",
        "Django-2.0.5-py3-none-any.whl",
        "Django-2.0.5.tar.gz",
        "Django-3.0-py3-none-any.whl",
    ]


def test_package_types():
    assert select({"package_types": ["sdist"]}, "django", DJANGO) == [
        "Django-1.11.tar.gz", "Django-2.0.tar.gz", "Django-2.0.5.tar.gz", "Django-2.1.tar.gz"]
    wheels = select({"package_types": ["bdist_wheel"]}, "pip-tools", PIP_TOOLS)
    assert wheels == ["pip_tools-1.12.0-py2.py3-none-any.whl"]


def test_exclude_platforms():
    assert select({"exclude_platforms": ["windows", "macos"]}, "numpy", NUMPY) == [
        "numpy-1.26.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-1.26.0-cp311-cp311-musllinux_1_1_x86_64.whl",
        "numpy-1.26.0-pp39-pypy39_pp73-freebsd_13_x86_64.whl",
        "numpy-1.26.0-py3-none-any.whl",
        "numpy-1.26.0.tar.gz",
    ]
    assert select({"exclude_platforms": ["linux", "freebsd", "windows", "macos"]},
                  "numpy", NUMPY) == ["numpy-1.26.0-py3-none-any.whl", "numpy-1.26.0.tar.gz"]


def test_wheel_for_several_platforms_stays_unless_all_are_excluded():
    files = [info("pkg-1.0-py3-none-macosx_11_0_arm64.win_amd64.whl")]
    assert len(select({"exclude_platforms": ["windows"]}, "pkg", files)) == 1
    assert select({"exclude_platforms": ["windows", "macos"]}, "pkg", files) == []


def test_keep_latest_packages_counts_versions_after_filtering():
    assert select({"keep_latest_packages": 2}, "django", DJANGO) == [
        "Django-2.1.tar.gz", "Django-3.0-py3-none-any.whl"]
    config = {"keep_latest_packages": 2, "package_types": ["bdist_wheel"], "prereleases": True}
    assert select(config, "django", DJANGO) == [
        "Django-2.2b1-py3-none-any.whl", "Django-3.0-py3-none-any.whl"]
    assert select({"keep_latest_packages": "1"}, "scipy", SCIPY) == ["scipy-1.2.0.tar.gz"]
    assert len(select({"keep_latest_packages": 0}, "django", DJANGO)) == len(DJANGO) - 1


def test_foreign_and_unparsable_files_are_dropped():
    files = [info("other-1.0.tar.gz"), info("django-installer.exe"), info("Django-2.0.tar.gz")]
    assert select({}, "django", files) == ["Django-2.0.tar.gz"]


def test_selection_default_is_whole_index():
    assert Selection().select("shelf-reader", SHELF) == parse_selection({}).select(
        "shelf-reader", SHELF)


@pytest.mark.parametrize("config, fragment", [
    ({"includes": [{"name": "django", "version_specifier": "~=2"}]}, "invalid version_specifier"),
    ({"includes": [{"name": "django", "version_specifier": "2.0"}]}, "invalid version_specifier"),
    ({"includes": ["django ~= 2.0 ;"]}, "invalid requirement"),
    ({"includes": ['django; python_version<"3"']}, "environment marker"),
    ({"includes": [{"name": "django", "spec": ">1"}]}, "unknown keys spec"),
    ({"includes": [{"version_specifier": ">1"}]}, "project name None"),
    ({"includes": [{"name": "-bad-"}]}, "invalid project name"),
    ({"includes": "django"}, "includes must be a list"),
    ({"excludes": [{"name": "scipy", "digests": [{"type": "crc32", "digest": "00"}]}]},
     "unsupported digest type 'crc32'"),
    ({"excludes": [{"name": "scipy", "digests": [{"type": "md5", "digest": "xyz"}]}]},
     "not valid hex"),
    ({"excludes": [{"name": "scipy", "digests": [{"type": "sha256", "digest": SCIPY_MD5}]}]},
     "not valid hex"),
    ({"excludes": [{"name": "scipy", "digests": [{"digest": SCIPY_MD5}]}]},
     "exactly type and digest"),
    ({"package_names": 5}, "package_names must be"),
    ({"prereleases": "maybe"}, "prereleases must be true or false"),
    ({"package_types": ["wheel"]}, "package_types: unknown values wheel"),
    ({"exclude_platforms": ["solaris"]}, "exclude_platforms: unknown values solaris"),
    ({"keep_latest_packages": -1}, "keep_latest_packages must be"),
    ({"keep_latest_packages": True}, "keep_latest_packages must be"),
])
def test_validate_config_rejects(config, fragment):
    ok, message = validate_config(config)
    assert not ok
    assert fragment in message


def test_validate_config_accepts_guide_and_pulp2_configs():
    assert validate_config({"includes": COMPLEX_INCLUDES}) == (True, None)
    pulp2 = {"feed": "https://pypi.python.org/", "package_names": "numpy,scipy"}
    assert validate_config(pulp2) == (True, None)
    # Unknown keys are the platform's business (kept, named back as warnings).
    assert validate_config({"feed": "http://x/", "bogus": 1}) == (True, None)
    full = {"includes": ["django~=2.0"], "excludes": ["django==2.0.1"], "prereleases": False,
            "package_types": ["sdist", "bdist_wheel"], "exclude_platforms": ["windows"],
            "keep_latest_packages": 3}
    assert validate_config(full) == (True, None)
