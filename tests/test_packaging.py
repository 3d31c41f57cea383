"""pyproject.toml ships what the code loads: every subpackage and every non-Python file under nsw2v/.

The tests run from the source tree, where a file left out of the wheel is still found; these checks read
the packaging rules instead. ``.ci/run`` also builds the wheel, installs it alone in a fresh environment and
imports every module from outside the source tree (``.ci/check_installed.py``): too slow for the suite
(a build and an install, about 20 s), and it needs the package index.
"""
import fnmatch
import re
import sys
from pathlib import Path

import pytest

import nsw2v

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nsw2v"

if sys.version_info >= (3, 11):
    import tomllib
else:                                       # pytest needs tomli before 3.11, so it is there
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomllib (3.11) or tomli")


@pytest.fixture(scope="module")
def pyproject():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def source_files():
    return [p.relative_to(PACKAGE) for p in PACKAGE.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]


def test_every_subpackage_is_found(pyproject):
    setuptools = pyproject["tool"]["setuptools"]
    assert isinstance(setuptools["packages"], dict), "a fixed package list leaves new subpackages out: use find"
    include = setuptools["packages"]["find"]["include"]
    packages = {".".join(("nsw2v",) + p.parent.parts) for p in source_files() if p.name == "__init__.py"}
    assert "nsw2v.training" in packages
    for package in packages:
        assert any(fnmatch.fnmatchcase(package, pattern) for pattern in include), f"{package} is not in {include}"
    # a folder of modules without __init__.py would be left out by find (no namespace packages here)
    folders = {p.parent for p in source_files() if p.suffix == ".py"}
    assert all((PACKAGE / f / "__init__.py").exists() for f in folders), folders


def test_every_data_file_is_package_data(pyproject):
    globs = pyproject["tool"]["setuptools"]["package-data"]["nsw2v"]
    data = [p for p in source_files() if p.suffix != ".py"]
    assert Path("data/gutenberg_small.txt.gz") in data
    for path in data:
        assert any(fnmatch.fnmatchcase(path.as_posix(), g) for g in globs), f"nsw2v/{path} matches none of {globs}"


def test_license_version_and_extras(pyproject):
    project = pyproject["project"]
    assert isinstance(project["license"], str)              # SPDX; a table is deprecated, an error from 2027
    requires = " ".join(pyproject["build-system"]["requires"])
    assert int(re.search(r"setuptools>=(\d+)", requires).group(1)) >= 77   # the first to read an SPDX string
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nsw2v.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", nsw2v.__version__)
    test = " ".join(project["optional-dependencies"]["test"])
    assert "gensim" in test and "matplotlib" in test        # the interop tests and the pictures run, not skip
