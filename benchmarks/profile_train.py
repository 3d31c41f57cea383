"""Where one epoch's time goes, end to end: decompress, count, encode, train; the training alone; memory.

    python benchmarks/profile_train.py --corpus enwiki                        # NumPy (the CPU's engine)
    NSW2V_FAST_GPU=1 python benchmarks/profile_train.py --corpus enwiki --xp cupy [--sg 1]
    NSW2V_FAST_GPU=1 python benchmarks/profile_train.py --xp cupy --streams 1024,4096,16384 --evaluate --json p.json

For each ``--streams`` value (the CUDA engine's streams in flight; ``default`` for the engine's own) a
fresh model, same seed and settings as the peers' comparison (CBOW unless ``--sg 1``), is built and
trained for ``--epochs``, every phase timed on its own with the device synchronised at its end:

- ``decompress``, ``count``, ``encode``: ``Word2Vec.build_vocab``. On the device reader's path (CuPy with
  ``NSW2V_FAST_GPU=1``) a thread reads and gunzips the file piece by piece (``ingest.read_pieces``) while
  the device tokenises, hashes and counts the piece before (``count``, the gunzipping included), then the
  device encodes (``encode``); ``decompress`` is the same reading timed alone beforehand, the bound the
  reading cannot beat. On the Python reader's path the three are one pass, shown as ``read``;
- ``train alone``: one epoch of the engine on chunks already prepared (on the device with CuPy:
  subsampled, ids kept), on copies of the tables: the training's own rate (the issue's 50M words/s);
- ``train``: ``Word2Vec.train`` for ``--epochs``, its reader thread preparing the next chunk as one trains.

On CuPy it also reports the memory CuPy's pool held at most: during reading (just before the reader
gives its temporaries back) and since. With ``--evaluate``, each model's analogy accuracy (30k words) and
WordSim-353 rho. ``--json`` saves one row per model.
"""
from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time

from _shared import corpus_path, evaluate_nsw2v, machine, save_json


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="enwiki", help="ptb, enwiki or a path")
    parser.add_argument("--xp", default=None, help="numpy or cupy (default: GPU=... decides)")
    parser.add_argument("--sg", type=int, choices=(0, 1), default=0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--engine", default=None, help="array, numba or cuda (default: the backend's)")
    parser.add_argument("--streams", default="default",
                        help="comma-separated streams in flight for the CUDA engine ('default': its own)")
    parser.add_argument("--evaluate", action="store_true", help="analogy accuracy and WordSim-353 of each model")
    parser.add_argument("--json", metavar="FILE", help="also save the rows as JSON")
    args = parser.parse_args(argv)

    from nsw2v import backend
    xp = backend.resolve_xp(args.xp)
    path = str(corpus_path(args.corpus))
    if backend.is_cupy(xp):
        xp.zeros(1)                                       # CuPy imported and the GPU started before the clocks
        backend.synchronize(xp)
    print(f"{machine()}; backend {xp.__name__}; corpus {path}; {datetime.date.today()}")
    print(f"command: python {shlex.join(sys.argv)}\n", flush=True)
    rows = []
    for streams in args.streams.split(","):
        rows.append(profile(xp, path, args, None if streams == "default" else int(streams)))
    save_json(args.json, rows, corpus=path, machine=machine(), date=str(datetime.date.today()),
              command=shlex.join(["python"] + sys.argv))


def profile(xp, path: str, args, streams) -> dict:
    """One model's phases (printed as they end); returns its row."""
    from nsw2v import Word2Vec, backend, ingest
    from nsw2v.training import engines
    from nsw2v.training.plan import LearningRate

    row = {"model": "skip-gram" if args.sg else "CBOW", "epochs": args.epochs}
    pool = xp.get_default_memory_pool() if backend.is_cupy(xp) else None
    clock = [time.perf_counter()]

    def lap(name: str) -> float:
        backend.synchronize(xp)
        now = time.perf_counter()
        seconds, clock[0] = now - clock[0], now
        row[f"{name.replace(' ', '_')}_seconds"] = seconds
        if pool is not None:                               # the pool keeps what it took: its size is its peak
            key = "pool_peak_read_mib" if name in ("count", "encode") else "pool_peak_train_mib"
            row[key] = max(row.get(key, 0.0), pool.total_bytes() / 2**20)
        print(f"  {name:22s} {seconds:8.3f} s", flush=True)
        return seconds

    alpha = 0.025 if args.sg else 0.05
    model = Word2Vec(vector_size=100, window=5, min_count=5, sg=args.sg, negative=5, sample=1e-3, alpha=alpha,
                     min_alpha=1e-4, epochs=args.epochs, seed=1, xp=xp, verbose=False, engine=args.engine)
    model.streams = streams
    array_reader = backend.is_cupy(xp) and backend.fast_gpu()
    if array_reader:                                       # the gunzipping alone: what reading cannot beat
        clock[0] = time.perf_counter()
        sum(piece.size for piece in ingest.read_pieces(path))
        lap("decompress")
    count = ingest.count_and_encode
    ingest.count_and_encode = lambda *a, **k: count(*a, phase=lap, **k)
    try:
        clock[0] = time.perf_counter()
        start = clock[0]
        model.build_vocab(corpus_file=path)
        if "count_seconds" not in row:
            lap("read")                                    # the Python reader: one pass
    finally:
        ingest.count_and_encode = count
    row["vocabulary_seconds"] = time.perf_counter() - start
    if pool is not None:
        pool.free_all_blocks()
    words = model.vocab.total_words
    engine_name = engines.choose(model)
    row.update(engine=engine_name, words=words, vocab_size=len(model.vocab), raw_words=model.vocab.raw_words)
    print(f"{row['model']}, engine {engine_name}, {words:,} words, streams "
          f"{getattr(model, 'streams', None) or 'default'}")

    # the training alone: an epoch's chunks prepared first, then trained, on copies of the tables
    tables = model.W_in, model.W_out
    model.W_in, model.W_out = model.W_in.copy(), model.W_out.copy()
    try:
        engine = engines.make(model, LearningRate(model.alpha, model.min_alpha, words))
        if hasattr(engine, "streams"):
            row["streams"] = engine.streams
        chunks = model._encoded[1].iter_chunks(model.chunk_words or engine.chunk_words)
        prepared = [(len(ids), engine.prepare(0, number, ids, sid)) for number, (ids, sid) in enumerate(chunks)]
        if getattr(engine, "side", None) is not None:
            engine.side.synchronize()                      # the CUDA engine prepares on a stream of its own
        backend.synchronize(xp)
        acc, done = engines.Accumulator(), 0
        clock[0] = time.perf_counter()
        for raw, item in prepared:
            engine.train(item, raw, done, acc)
            done += raw
        alone = lap("train alone")
        row["train_alone_words_per_s"] = done / alone
        del prepared, engine
    finally:
        model.W_in, model.W_out = tables
    if pool is not None:
        pool.free_all_blocks()

    clock[0] = time.perf_counter()
    model.train(corpus_file=path, epochs=args.epochs)
    train = lap("train")
    row["train_words_per_s"] = words * args.epochs / train
    row["end_to_end_seconds"] = row["vocabulary_seconds"] + train
    row["end_to_end_words_per_s"] = model.vocab.raw_words * args.epochs / row["end_to_end_seconds"]
    print(f"  training alone {row['train_alone_words_per_s'] / 1e6:.2f}M words/s; train() "
          f"{row['train_words_per_s'] / 1e6:.2f}M words/s; end to end {row['end_to_end_seconds']:.2f} s, "
          f"{row['end_to_end_words_per_s'] / 1e6:.2f}M corpus words/s", flush=True)
    if "decompress_seconds" in row:
        print(f"  bound: gunzipping alone takes {row['decompress_seconds']:.2f} s, "
              f"{row['decompress_seconds'] / row['end_to_end_seconds']:.0%} of the end-to-end time; reading "
              f"(build_vocab) took {row['vocabulary_seconds']:.2f} s")
    if pool is not None:
        print(f"  CuPy's pool held at most {row.get('pool_peak_read_mib', 0):.0f} MiB while reading, "
              f"{row['pool_peak_train_mib']:.0f} MiB while training")
    if args.evaluate:
        row["analogy_acc"], row["wordsim_rho"] = evaluate_nsw2v(model.wv)
        print(f"  analogy {row['analogy_acc']:.1%}, WordSim-353 rho {row['wordsim_rho']:.3f}", flush=True)
    return row


if __name__ == "__main__":
    main()
