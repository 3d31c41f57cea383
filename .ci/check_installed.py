"""Run OUTSIDE the source tree, in an environment where only the built wheel of nsw2v is installed:

    python check_installed.py SOURCE_TREE

Checks that the installed package holds every module and every non-Python file of the source tree's
``nsw2v/`` (a subpackage or a data file left out of the wheel fails here, not on a user's machine),
that it was imported from site-packages, not from the source tree, and that every module imports
(a module that needs an optional package that is not installed, such as numba, mpi4py or CuPy, is
listed as skipped). Exit status 1 on any failure.
"""
import importlib
import importlib.util
import sys
from pathlib import Path

OPTIONAL = {"numba", "cupy", "cupyx", "mpi4py", "matplotlib", "sklearn"}


def files(root: Path) -> set:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def main(source: str) -> int:
    source_pkg = Path(source).resolve() / "nsw2v"
    spec = importlib.util.find_spec("nsw2v")
    if spec is None or spec.origin is None:
        print("nsw2v is not installed")
        return 1
    installed = Path(spec.origin).resolve().parent
    if source_pkg == installed or Path(source).resolve() in installed.parents:
        print(f"nsw2v was imported from the source tree ({installed}), not from the installed wheel")
        return 1
    missing = sorted(files(source_pkg) - files(installed))
    failures = [f"not in the wheel: nsw2v/{name}" for name in missing]
    modules = []
    for name in sorted(files(installed)):
        parts = Path(name).with_suffix("").parts
        if name.endswith(".py") and parts[-1] != "__main__":        # importing __main__ would run the CLI
            modules.append(".".join(("nsw2v",) + (parts[:-1] if parts[-1] == "__init__" else parts)))
    skipped = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in OPTIONAL:
                skipped.append(f"{module} (needs {exc.name})")
            else:
                failures.append(f"import {module}: {exc!r}")
        except Exception as exc:            # noqa: BLE001 - every failure is reported
            failures.append(f"import {module}: {exc!r}")
    print(f"installed nsw2v at {installed}: {len(files(installed))} files, {len(modules)} modules imported"
          + (f", skipped: {', '.join(skipped)}" if skipped else ""))
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
