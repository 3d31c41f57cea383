"""Dockerfile.cuda agrees with pyproject.toml: CUDA major of the image = the CuPy wheel's, extras exist, GPU=1."""
import re
import sys
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:                                       # pytest needs tomli before 3.11, so it is there
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomllib (3.11) or tomli")


def instructions():
    """(INSTRUCTION, arguments) pairs of Dockerfile.cuda, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile.cuda").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def extras():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["optional-dependencies"]


def test_cuda_major_of_the_image_matches_the_cupy_wheel():
    images = [args for word, args in instructions() if word == "FROM"]
    assert len(images) == 1, f"expected one FROM line, got {images}"
    image = re.fullmatch(r"nvidia/cuda:(\d+)\.\d+(?:\.\d+)?-\S*runtime\S*(?:\s+AS\s+\S+)?", images[0], re.I)
    assert image, f"FROM {images[0]}: expected an official nvidia/cuda:<version>-...runtime... image"
    wheels = [m for dep in extras()["gpu"] for m in re.findall(r"cupy-cuda(\d+)x", dep)]
    assert len(wheels) == 1, f"the gpu extra {extras()['gpu']} should name one cupy-cudaNNx wheel"
    assert image.group(1) == wheels[0], (
        f"image CUDA {image.group(1)} but the gpu extra installs cupy-cuda{wheels[0]}x: "
        "change the FROM line or the wheel so the CUDA majors agree")


def test_pip_installs_the_gpu_and_test_extras_that_pyproject_defines():
    defined = set(extras())
    installs = [m for word, args in instructions() if word == "RUN"
                for m in re.findall(r"pip install\s+(?:-\S+\s+)*[\"']?\.\[([^\]]+)\]", args)]
    assert installs, "no `pip install .[...]` of the project in Dockerfile.cuda"
    wanted = {e.strip() for e in installs[-1].split(",")}
    assert {"gpu", "test"} <= wanted, f"the image installs extras {sorted(wanted)}; it needs gpu and test"
    assert wanted <= defined, f"extras {sorted(wanted - defined)} are not defined in pyproject.toml"


def test_gpu_is_the_default_backend_in_the_image():
    env = " ".join(args for word, args in instructions() if word == "ENV")
    assert re.search(r"(?:^|\s)GPU(?:=|\s+)[\"']?1[\"']?(?:\s|$)", env), "Dockerfile.cuda should set ENV GPU=1"


def test_the_default_command_runs_the_test_suite():
    cmds = [args for word, args in instructions() if word == "CMD"]
    assert cmds and "pytest" in cmds[-1] and "tests" in cmds[-1], f"CMD {cmds} should run the tests"


def test_the_build_context_leaves_out_the_benchmark_data():
    """benchmarks/.cache holds the data the benchmarks read (the Penn Treebank among it, not free to ship):
    .dockerignore keeps it, the results and the git history out of the image."""
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"benchmarks/.cache", "benchmarks/results", ".git"} <= ignored, sorted(ignored)
    assert not any(line.startswith("!") for line in ignored), "no exceptions to the exclusions"


def test_the_readme_shows_how_to_build_and_run_the_image():
    """The README builds this Dockerfile, then runs the image it built with the GPUs: the tests, and the benchmarks."""
    readme = re.sub(r"\\\n\s*", " ", (ROOT / "README.md").read_text(encoding="utf-8"))
    built = re.findall(r"docker build -f Dockerfile\.cuda -t (\S+) \.", readme)
    assert len(built) == 1, f"README should show one `docker build -f Dockerfile.cuda -t TAG .`, found {built}"
    runs = [line.split("#")[0].split()[2:] for line in readme.splitlines()
            if line.startswith("docker run")]
    ours = [args for args in runs if built[0] in args and "--gpus" in args]
    assert ours, f"README should run the image {built[0]} with --gpus: {runs}"
    commands = [args[args.index(built[0]) + 1:] for args in ours]
    assert [] in commands, f"README should run the image's default command (the tests): {commands}"
    assert any(c[:4] == ["python3", "-m", "pytest", "benchmarks/"] and "--benchmark-only" in c for c in commands), (
        f"README should run the benchmarks in the image: {commands}")
    workdir = [args for word, args in instructions() if word == "WORKDIR"][-1]
    mounts = [a.split(":")[1] for args in ours for flag, a in zip(args, args[1:]) if flag == "-v"]
    shared = str(PurePosixPath(workdir).parent / "shared")       # the tests' ../shared/data beside the checkout
    assert shared in mounts, f"README should mount the data at {shared} (WORKDIR {workdir}), mounts {mounts}"
