"""Every example in README.md runs as written: each ```python block, and each command of the ```sh blocks.

The blocks are found in the README itself, so a new example is tested without a word here. The shell commands
run in order in one temporary folder (a later command may read what an earlier one wrote, as a reader going down
the page would), each python block in a folder of its own, with this checkout's ``nsw2v`` importable. Files the README tells a reader to fetch (the C tool's
``questions-words.txt``, ``wordsim353.tsv``) are copied in from ``../shared/data`` or from gensim's own copies;
where neither exists, what needs them is skipped, saying so.

What cannot run here is skipped with its reason (:func:`why_not`): installing (CI's ``.ci/run`` installs exactly
as the README says), the test suite itself, Docker, a GPU, the benchmarks. A python block preceded by the line
``<!-- not run: REASON -->`` is skipped with that reason.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nsw2v import backend

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DATA = Path(os.environ.get("NSW2V_DATA") or ROOT.parent / "shared" / "data")
FETCHED = {"questions-words.txt": "eval/questions-words.txt", "wordsim353.tsv": "eval/wordsim353.tsv"}

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\s*$")


def blocks():
    """``(language, code, skip reason or None, line number)`` of each fenced block, in order."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        reason = NOT_RUN.search(before)
        found.append((match.group(1), match.group(2), reason and reason.group(1),
                      text.count("\n", 0, match.start()) + 1))
    return found


def commands(code: str):
    """The commands of a shell block: continuation lines joined, comments dropped."""
    joined = code.replace("\\\n", " ")
    for line in joined.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            yield line


def why_not(command: str):
    """Why a README command is not run here, or None to run it."""
    if command.startswith("docker "):
        return "Docker: no engine on the test machines (tests/test_dockerfile.py checks the image's file)"
    if "python -m pytest" in command or command.startswith("pytest "):
        return "the test suite or the benchmarks themselves"
    if command.startswith("python benchmarks/"):
        return "a benchmark of many minutes (tests/test_results_table.py runs its smoke test)"
    if command.startswith(("mpiexec ", "srun ")):
        return "launches of several processes on a corpus.txt: tests/test_mpi.py runs such launches under mpiexec"
    if command.startswith("GPU=1") and not backend.gpu_available():
        return "needs a GPU"
    if command.startswith("pip install") and "&&" not in command:
        return "installing: CI's .ci/run installs as the README says, in a fresh environment"
    return None


def runnable(command: str):
    """The command as a subprocess argument list (``pip install X &&`` dropped: this checkout is importable)."""
    if command.startswith("pip install") and "&&" in command:
        command = command.split("&&", 1)[1].strip()
    argv = shlex.split(command)
    while "=" in argv[0]:                   # VAR=value before the command: set in its environment
        argv = argv[1:]
    if argv[0] == "nsw2v":
        return [sys.executable, "-m", "nsw2v", *argv[1:]]
    if argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    raise AssertionError(f"README command {command!r}: tests/test_readme.py does not know how to run it; "
                         "teach runnable() or why_not()")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The reader's folder, with the files the README tells them to fetch where this machine has them."""
    here = tmp_path_factory.mktemp("readme")
    for name, relative in FETCHED.items():
        source = DATA / relative
        if not source.exists():
            try:
                from gensim.test.utils import datapath
                source = Path(datapath(name))
            except ImportError:
                continue
        if source.exists():
            shutil.copy(source, here / name)
    return here


def environment():
    env = {k: v for k, v in os.environ.items() if k not in ("GPU", "NSW2V_FAST_GPU")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["MPLBACKEND"] = "Agg"                # no display here: Trainer.plot() without a file would only warn
    return env


def missing_files(code: str, folder: Path):
    return [name for name in FETCHED if name in code and not (folder / name).exists()]


def test_the_readme_has_examples_of_both_kinds():
    kinds = [language for language, *_ in blocks()]
    assert kinds.count("python") >= 2 and kinds.count("sh") >= 3


def test_every_example_runs_as_written(folder):
    """Each python block in a folder of its own, started at once (they are independent: 2 cores run two);
    the shell commands one after another in the shared folder, in the page's order (a command may read a
    file that an earlier one wrote)."""
    env = environment()
    ran, skipped, started = [], [], []
    for number, (language, code, reason, line) in enumerate(blocks()):
        where = f"README.md line {line}"
        if language != "python":
            continue
        if reason or missing_files(code, folder):
            skipped.append((where, reason or f"absent: {missing_files(code, folder)}"))
            continue
        own = folder / f"python-{number}"
        own.mkdir()
        for name in FETCHED:
            if (folder / name).exists():
                shutil.copy(folder / name, own / name)
        with open(own / ".stderr", "wb") as err:     # a file, not a pipe: a full pipe would stall the block
            started.append((where, own, subprocess.Popen([sys.executable, "-c", code], cwd=own, env=env,
                                                         stdout=subprocess.DEVNULL, stderr=err)))
    try:
        for language, code, _, line in blocks():
            if language not in ("sh", "shell", "bash"):
                continue
            where = f"README.md line {line}"
            for command in commands(code):
                reason = why_not(command) or (missing_files(command, folder) and
                                              f"absent: {missing_files(command, folder)}")
                if reason:
                    skipped.append((f"{where}: {command}", reason))
                    continue
                assignments = dict(word.split("=", 1) for word in shlex.split(command.split("&&")[-1])
                                   if "=" in word and not word.startswith("-"))
                done = subprocess.run(runnable(command), cwd=folder, env={**env, **assignments},
                                      capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, f"{where}: {command!r} failed:\n{done.stderr[-3000:]}"
                ran.append(f"{where}: {command}")
        for where, own, proc in started:
            proc.wait(timeout=300)
            err = (own / ".stderr").read_text(encoding="utf-8", errors="replace")
            assert proc.returncode == 0, f"{where}: the python block failed:\n{err[-3000:]}"
            ran.append(where)
    finally:
        for _, _, proc in started:
            if proc.poll() is None:
                proc.kill()
    # what was skipped, and why, shows with pytest -rA; the core examples must have run
    print("\n".join(f"skipped {what}: {why}" for what, why in skipped))
    assert sum("nsw2v train" in r for r in ran) >= 2 and len(ran) >= 6, ran
    assert (folder / "vectors.bin").exists() and (folder / "map.png").exists()
    assert any((own / "loss.png").exists() for _, own, _ in started)


def test_module_examples_that_name_shipped_files_run():
    """The usage examples that open the reading modules' docstrings run on the corpus in the package."""
    import doctest

    import nsw2v.corpus
    import nsw2v.vocab
    for module in (nsw2v.corpus, nsw2v.vocab):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted >= 5, module.__name__
