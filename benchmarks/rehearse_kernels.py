"""The GPU kernels' path (``NSW2V_FAST_GPU=1``) on real data, run on the CPU, against the array code.

    python benchmarks/rehearse_kernels.py                      # CBOW, 1M tokens of enwiki, 3 epochs
    python benchmarks/rehearse_kernels.py --sg 1 --tokens 200000

Trains twice with the same seed and settings (batch 16,384 and the batched sampler, as on the GPU):
once with NumPy's array code, once through the kernels' CUDA source compiled for the CPU
(``tests/test_kernels.py``: its ``cupy.RawKernel`` stand-in checks every launch's arguments), with the
plans sorted once a chunk as CuPy's plans are. It prints both runs' epoch losses, the nearest
neighbours of a few words and the largest difference between the two sets of vectors: the kernels'
logic on a real corpus, for sessions without a GPU. Timings here say nothing about the GPU.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from _shared import HERE, corpus_path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="enwiki", help="ptb, enwiki or a path")
    parser.add_argument("--tokens", type=int, default=1_000_000, help="the corpus's first tokens to train on")
    parser.add_argument("--sg", type=int, choices=(0, 1), default=0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16384)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE.parent / "tests"))
    import test_kernels
    from nsw2v import Word2Vec
    from nsw2v.corpus import LineSentence

    if test_kernels.CXX is None:
        sys.exit("no C++ compiler: the kernels' source cannot run on the CPU")
    # not in benchmarks/.cache, which a GPU session carries to the device machine (64 MiB at most)
    source = corpus_path(args.corpus)
    path = Path(tempfile.gettempdir()) / f"nsw2v-rehearsal-{source.name.split('.')[0]}-{args.tokens}.txt"
    if not path.exists():
        left, lines = args.tokens, []
        for sentence in LineSentence(str(source), 10_000):
            lines.append(" ".join(sentence[:left]))
            left -= len(sentence[:left])
            if left == 0:
                break
        path.with_suffix(".tmp").write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.with_suffix(".tmp").replace(path)
    settings = dict(corpus_file=str(path), sg=args.sg, epochs=args.epochs, batch_size=args.batch_size,
                    sampler="batched", seed=1, xp="numpy", verbose=False, engine="array")
    runs = {}
    for name in ("array code", "kernels"):
        if name == "kernels":
            plain = types.SimpleNamespace(setattr=setattr)
            test_kernels.launch_on_the_cpu(plain, tempfile.mkdtemp(prefix="nsw2v-kernels-"))
            test_kernels.use_the_kernels(plain)
        start = time.time()
        runs[name] = Word2Vec(**settings)
        print(f"{name:10s} {time.time() - start:6.1f} s on the CPU; epoch losses "
              f"{', '.join(f'{loss:.6f}' for loss in runs[name].epoch_losses)}")
    want, got = runs["array code"].wv, runs["kernels"].wv
    for word in ("king", "france", "water", "three"):
        if word in want.key_to_index:
            print(f"{word}: {[w for w, _ in want.most_similar(word, topn=5)]} | "
                  f"{[w for w, _ in got.most_similar(word, topn=5)]}")
    print(f"largest difference of the vectors: {np.abs(got.vectors - want.vectors).max():.3g} "
          f"(mean |component| {np.abs(want.vectors).mean():.3g})")


if __name__ == "__main__":
    main()
