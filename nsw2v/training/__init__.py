"""Training: how a corpus becomes updates of the two tables.

    plan.py          chunks to streams and windows, seeds, the learning-rate schedule (the array engine's planner)
    walk.py          the walk-in-order rules shared by the compiled engines: counter-based draws and the
                     sequential reference they are tested against
    engines.py       which engine trains (chosen once per ``train()``) and how to build it
    array_engine.py  the array code over ``xp`` (NumPy or CuPy): batched steps, scatter-add and its cap
    numba_engine.py  the compiled CPU loop (the only numba import): walk.py's rules on ``workers`` threads
    pool.py          forked processes training one table without locks (the array engine on NumPy)
    driver.py        the epoch loop: chunks in, loss and progress out, divergence stopped
    progress.py      the progress line (stderr and ``logging``)
    prefetch.py      a reader thread that prepares the next chunk while one trains

Every engine has one interface: ``prepare(epoch, number, ids, sid)`` (may run in the
reader thread) and ``train(prepared, raw_words, words_before, acc, report) -> lr``.
"""
