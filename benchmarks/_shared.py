"""What the benchmark scripts share: where the data is, corpus names, evaluation, Markdown rows.

Data lives in ``../shared/data`` beside the checkout, or under ``$NSW2V_DATA``.
Importing this module also puts the repository root on ``sys.path``, so the
scripts run from a checkout without installing nsw2v.
"""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = Path(os.environ.get("NSW2V_DATA") or HERE.parents[1] / "shared" / "data")
CACHE = HERE / ".cache"
CORPORA = {
    "ptb": "corpora/ptb/ptb.train.txt.gz",
    "enwiki": "corpora/enwiki-2019-text8style.txt.gz",
}
ANALOGIES = "eval/questions-words.txt"
WORDSIM = "eval/wordsim353.tsv"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def need_file(path: Path, what: str) -> Path:
    """The path, or exit with a message naming what is missing and how to point at it."""
    if not path.exists():
        sys.exit(f"{path}: {what} not found (set NSW2V_DATA to the folder holding corpora/ and eval/, "
                 "or pass a path)")
    return path


def corpus_path(name: str) -> Path:
    """``ptb``, ``enwiki`` or a file path."""
    if name in CORPORA:
        return need_file(DATA / CORPORA[name], f"the {name} corpus")
    return need_file(Path(name), "corpus file")


def eval_files() -> Tuple[Path, Path]:
    return need_file(DATA / ANALOGIES, "the analogy test set"), need_file(DATA / WORDSIM, "WordSim-353")


def evaluate_nsw2v(wv: Any) -> Tuple[float, float]:
    """(analogy accuracy on the 30k most frequent words, WordSim-353 Spearman rho) by nsw2v.evaluate."""
    from nsw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs
    analogies, wordsim = eval_files()
    accuracy, _ = evaluate_word_analogies(wv, analogies, restrict_vocab=30000)
    _, (rho, _), _ = evaluate_word_pairs(wv, wordsim)
    return float(accuracy), float(rho)


def machine() -> str:
    """One line naming this machine: CPU, cores, GPU when CuPy sees one."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {os.cpu_count()} cores"
    from nsw2v import backend
    if backend.gpu_available():
        cupy = backend.resolve_xp("cupy")
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        text += f", GPU {name.decode() if isinstance(name, bytes) else name}"
    return text


def markdown_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def markdown_header(columns: Sequence[str]) -> str:
    return markdown_row(columns) + "\n" + "|" + "|".join("---" for _ in columns) + "|"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def save_json(path: Optional[str], rows: List[dict], **meta: Any) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=2)
        print(f"\nwrote {path}", file=sys.stderr)
