"""Intrinsic evaluation of word vectors: word analogies and word-pair similarity.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from nsw2v.vectors import WordVectors
    >>> from nsw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs
    >>> words = ["man", "woman", "king", "queen", "apple"]
    >>> vecs = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1]], dtype=np.float32)
    >>> wv = WordVectors(words, vecs)
    >>> folder = tempfile.mkdtemp()
    >>> questions = os.path.join(folder, "questions.txt")
    >>> with open(questions, "w") as f:
    ...     _ = f.write(": royalty\\nman king woman queen\\nman king woman unicorn\\n")
    >>> accuracy, sections = evaluate_word_analogies(wv, questions)
    >>> accuracy, sections[-1]["skipped"]            # 1 of 1 answered; 1 skipped (OOV)
    (1.0, 1)
    >>> pairs = os.path.join(folder, "pairs.tsv")
    >>> with open(pairs, "w") as f:
    ...     _ = f.write("king\\tqueen\\t9.0\\nman\\tapple\\t1.0\\nman\\twoman\\t7.5\\n")
    >>> pearson, spearman, oov_ratio = evaluate_word_pairs(wv, pairs)
    >>> round(spearman[0], 3), oov_ratio
    (1.0, 0.0)

Both functions reproduce gensim 4's ``KeyedVectors.evaluate_word_analogies`` and
``KeyedVectors.evaluate_word_pairs`` (same file formats, same treatment of case
and of out-of-vocabulary words, same return values); the correlations and their
p-values are ``scipy.stats.pearsonr`` and ``spearmanr``, as in gensim.

File formats:

* analogies (``questions-words.txt``): ``": section name"`` lines, each followed
  by questions ``a b c expected`` meaning a : b :: c : expected;
* word pairs (``wordsim353.tsv``): ``word1<TAB>word2<TAB>score`` lines; lines
  starting with ``#`` are comments.
"""
from __future__ import annotations

import logging
import os
import warnings
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

from .errors import ReadError

if TYPE_CHECKING:
    from nsw2v.vectors import WordVectors

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

_CANDIDATES = 5  # gensim looks at the best 5 answers for one not among the question words
_MAX_SCORES = 1 << 24  # floats in one (questions, vocabulary) score block: 64 MiB


def _ok_vocab(wv: "WordVectors", restrict_vocab: Optional[int], case_insensitive: bool) -> tuple[int, dict[str, int]]:
    """Size of the searched vocabulary and its (possibly upper-cased) key -> row map.

    With `case_insensitive`, several words may share one upper-cased key; the first
    (most frequent, if the vocabulary is sorted) wins, as in gensim.
    """
    n = len(wv) if restrict_vocab is None else min(int(restrict_vocab), len(wv))
    ok: dict[str, int] = {}
    for i, key in enumerate(wv.index_to_key[:n]):
        ok.setdefault(key.upper() if case_insensitive else key, i)
    return n, ok


def evaluate_word_analogies(
    wv: "WordVectors",
    analogies: PathLike,
    restrict_vocab: Optional[int] = 30000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
) -> tuple[float, list[dict]]:
    """Accuracy of 3CosAdd on an analogy test set (gensim's ``evaluate_word_analogies``).

    For each question ``a b c expected`` the prediction is the word whose vector is
    closest by cosine to ``unit(b) - unit(a) + unit(c)`` among the first
    `restrict_vocab` words; the question words themselves (and, when
    `case_insensitive`, their other case variants) are not accepted as answers.
    All questions of a section are scored with one matrix product.

    Parameters
    ----------
    wv : WordVectors
        The vectors, sorted by descending frequency.
    analogies : str or os.PathLike
        File in the ``questions-words.txt`` format (UTF-8).
    restrict_vocab : int or None, optional
        Only the first `restrict_vocab` words are used, both to accept a question
        and as candidate answers. Default 30000, as the C tool's
        ``compute-accuracy`` uses (gensim 4's own default is 300000: pass it to
        compare with gensim's defaults). ``None``: all words.
    case_insensitive : bool, optional
        Upper-case the vocabulary and the questions before matching them.
    dummy4unknown : bool, optional
        Count questions with a word outside the restricted vocabulary as incorrect
        instead of skipping them.

    Returns
    -------
    accuracy : float
        ``correct / (correct + incorrect)`` over all sections, 0.0 when nothing was answered.
    sections : list of dict
        One dict per section, in file order, then a last one named ``"Total
        accuracy"``. Each has ``"section"`` (the name), ``"correct"`` and
        ``"incorrect"`` (lists of ``(a, b, c, expected)`` tuples, upper-cased when
        `case_insensitive`), as in gensim, plus ``"skipped"``: the number of
        questions left out because of out-of-vocabulary words (always 0 with
        `dummy4unknown`). The total also has ``"oov_ratio"``, the percentage of
        questions that contain such words.

    Raises
    ------
    nsw2v.errors.ReadError
        (a ``ValueError``) When the file is not UTF-8, a question comes before the first
        section header, or the file holds no question at all; the message names the file
        and the line.
    """
    n, ok_vocab = _ok_vocab(wv, restrict_vocab, case_insensitive)
    name = os.fspath(analogies)
    logger.info("evaluating word analogies for the top %d words of the model on %s", n, name)
    normed = wv.get_normed_vectors()[:n]
    keys = [k.upper() for k in wv.index_to_key[:n]] if case_insensitive else wv.index_to_key[:n]

    sections: list[dict] = []
    pending: list[tuple[tuple[str, str, str, str], Optional[tuple[int, int, int, int]]]] = []
    n_questions = n_oov = 0

    def close_section() -> None:
        if sections:
            _answer_section(sections[-1], pending, normed, keys, dummy4unknown)
            _log_section(sections[-1])
        pending.clear()

    with open(name, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf8")
            except UnicodeDecodeError as exc:
                raise ReadError(f"{name} line {line_no}: not UTF-8 ({exc.reason} at byte {exc.start} of the "
                                "line); the analogy files are UTF-8 text") from None
            if line.startswith(": "):
                close_section()
                sections.append({"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []})
                continue
            fields = line.split()
            if not sections:
                if not fields:
                    continue
                raise ReadError(f"{name} line {line_no}: question before the first ': section' header")
            if len(fields) != 4:
                logger.info("skipping invalid line %d in %s", line_no, name)
                continue
            question = tuple(w.upper() for w in fields) if case_insensitive else tuple(fields)
            n_questions += 1
            if all(w in ok_vocab for w in question):
                pending.append((question, tuple(ok_vocab[w] for w in question)))  # type: ignore[misc]
            else:
                n_oov += 1
                pending.append((question, None))
        close_section()
    if n_questions == 0:
        raise ReadError(f"{name}: no analogy question in the file (the format: ': section' lines, each followed "
                        "by questions 'a b c expected', four words a line)")

    total = {
        "section": "Total accuracy",
        "correct": [q for s in sections for q in s["correct"]],
        "incorrect": [q for s in sections for q in s["incorrect"]],
        "skipped": sum(s["skipped"] for s in sections),
        "oov_ratio": 100.0 * n_oov / n_questions if n_questions else 0.0,
    }
    logger.info("questions with out-of-vocabulary words: %.1f%%", total["oov_ratio"])
    if n_oov and not dummy4unknown:
        logger.info("%d questions with out-of-vocabulary words were skipped (dummy4unknown=False)", n_oov)
    accuracy = _log_section(total)
    sections.append(total)
    return accuracy, sections


def _answer_section(
    section: dict,
    questions: list,
    normed: np.ndarray,
    keys: list[str],
    dummy4unknown: bool,
) -> None:
    """Fill `section`'s correct/incorrect lists, keeping the file order of the questions."""
    known = [idx for _, idx in questions if idx is not None]
    predicted: list[Optional[str]] = []
    if known:
        idx = np.array(known, dtype=np.int64)  # (Q, 4): a, b, c, expected
        rows = max(1, _MAX_SCORES // max(1, normed.shape[0]))
        for start in range(0, idx.shape[0], rows):
            predicted += _predict(idx[start : start + rows], normed, keys)
    answers = iter(predicted)
    section["skipped"] = 0
    for question, idx_q in questions:
        if idx_q is None:
            if dummy4unknown:
                section["incorrect"].append(question)
            else:
                section["skipped"] += 1
            continue
        (section["correct"] if next(answers) == question[3] else section["incorrect"]).append(question)


def _predict(idx: np.ndarray, normed: np.ndarray, keys: list[str]) -> list[Optional[str]]:
    """3CosAdd answers (upper-cased keys when case-insensitive) for a block of questions."""
    a, b, c = normed[idx[:, 0]], normed[idx[:, 1]], normed[idx[:, 2]]  # (Q, H) each
    query = (b + c - a) / np.float32(3.0)
    norms = np.linalg.norm(query, axis=1, keepdims=True)
    query = query / np.where(norms > 0, norms, np.float32(1.0))
    scores = query @ normed.T  # (Q, N)
    rows = np.arange(idx.shape[0], dtype=np.int64)[:, None]
    scores[rows, idx[:, :3]] = -np.inf  # the question words are never answers
    k = min(_CANDIDATES, normed.shape[0])
    if k == 0:
        return [None] * idx.shape[0]
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < normed.shape[0] else np.tile(
        np.arange(normed.shape[0], dtype=np.int64), (idx.shape[0], 1)
    )
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)  # (Q, k), best first
    answers: list[Optional[str]] = []
    for cands, asked in zip(top.tolist(), idx[:, :3].tolist()):
        ignore = {keys[i] for i in asked}
        valid = normed.shape[0] - len(set(asked))  # candidates that are not -inf
        guess = None
        # gensim takes the first of the best 5 that is not a case variant of a question word,
        # or, if all 5 are, the last of them
        for i in cands[: min(k, valid)]:
            guess = keys[i]
            if guess not in ignore:
                break
        answers.append(guess)
    return answers


def _log_section(section: dict) -> float:
    correct, incorrect = len(section["correct"]), len(section["incorrect"])
    if correct + incorrect == 0:
        return 0.0
    score = correct / (correct + incorrect)
    logger.info("%s: %.1f%% (%d/%d)", section["section"], 100.0 * score, correct, correct + incorrect)
    return score


def evaluate_word_pairs(
    wv: "WordVectors",
    pairs: PathLike,
    delimiter: Optional[str] = "\t",
    *,
    restrict_vocab: Optional[int] = 300000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    encoding: str = "utf8",
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Correlation of cosine similarities with human judgements (gensim's ``evaluate_word_pairs``).

    Parameters
    ----------
    wv : WordVectors
        The vectors.
    pairs : str or os.PathLike
        File of ``word1 word2 score`` lines split by `delimiter`; lines starting
        with ``#`` and lines that do not have three fields with a numeric score are
        skipped.
    delimiter : str or None, optional
        Field separator (``None``: any whitespace).
    restrict_vocab : int or None, optional
        Pairs with a word outside the first `restrict_vocab` words are
        out-of-vocabulary. ``None``: all words.
    case_insensitive : bool, optional
        Upper-case the vocabulary and the pairs before matching them.
    dummy4unknown : bool, optional
        Give out-of-vocabulary pairs a model similarity of 0.0 instead of skipping them.
    encoding : str, optional
        Encoding of `pairs`.

    Returns
    -------
    pearson : tuple of (float, float)
        Pearson's r and its two-sided p-value.
    spearman : tuple of (float, float)
        Spearman's rho (ties get average ranks) and its two-sided p-value.
        Both are ``scipy.stats``'s, returned as plain floats (gensim returns
        scipy's result objects, which unpack the same way); NaN when a cosine is
        not finite (vectors with NaN or inf; a warning says how many) or one side
        is constant (scipy warns).
    oov_ratio : float
        Percentage of pairs with an unknown word: of all valid pairs, or (as in
        gensim) of the pairs used when `dummy4unknown` (where both counts agree).

    Raises
    ------
    nsw2v.errors.ReadError
        (a ``ValueError``) When a line is not in `encoding` or its score is NaN or
        infinite; the message names the file and the line.
    ValueError
        When fewer than two pairs could be used.
    """
    n, ok_vocab = _ok_vocab(wv, restrict_vocab, case_insensitive)
    name = os.fspath(pairs)
    gold: list[float] = []
    left: list[int] = []
    right: list[int] = []  # -1 for an out-of-vocabulary pair kept by dummy4unknown
    oov = 0
    with open(name, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ReadError(f"{name} line {line_no}: not {encoding} ({exc.reason} at byte {exc.start} of the "
                                "line); give the file's encoding") from None
            if not line or line.startswith("#"):
                continue
            try:
                a, b, score = line.split(delimiter)
                sim = float(score)
            except ValueError:
                logger.info("skipping invalid line %d in %s", line_no, name)
                continue
            if not np.isfinite(sim):
                raise ReadError(f"{name} line {line_no}: the score {score.strip()!r} is not a finite number")
            if case_insensitive:
                a, b = a.upper(), b.upper()
            if a not in ok_vocab or b not in ok_vocab:
                oov += 1
                if dummy4unknown:
                    gold.append(sim)
                    left.append(-1)
                    right.append(-1)
                continue
            gold.append(sim)
            left.append(ok_vocab[a])
            right.append(ok_vocab[b])
    if not gold:
        raise ValueError(
            f"{name}: no usable word pairs: the format is wrong or every pair has a word "
            f"outside the first {n} words of the model"
        )
    with np.errstate(invalid="ignore"):     # a vector with NaN or inf: said once, by the warning below
        normed = wv.get_normed_vectors()
    li, ri = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
    known = li >= 0
    model = np.zeros(len(gold), dtype=np.float64)
    model[known] = np.einsum("ij,ij->i", normed[li[known]], normed[ri[known]]).astype(np.float64)
    if len(gold) < 2:
        raise ValueError(f"{name}: one usable word pair; a correlation needs at least 2")
    broken = int(np.count_nonzero(~np.isfinite(model)))
    if broken:      # vectors with NaN or inf: the correlations are NaN, as gensim's (never a clipped 1.0)
        warnings.warn(f"{broken} of the {len(gold)} pairs have a non-finite cosine (vectors with NaN or inf): "
                      "the correlations are NaN", RuntimeWarning, stacklevel=2)
    pearson, spearman = _correlations(np.array(gold, dtype=np.float64), model)
    oov_ratio = 100.0 * oov / (len(gold) if dummy4unknown else len(gold) + oov)
    logger.info("Pearson correlation against %s: %.4f", name, pearson[0])
    logger.info("Spearman rank-order correlation against %s: %.4f", name, spearman[0])
    logger.info("pairs with unknown words: %.1f%%", oov_ratio)
    return pearson, spearman, oov_ratio


def _correlations(gold: np.ndarray, model: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Pearson's and Spearman's ``(statistic, two-sided p-value)`` by ``scipy.stats``, as plain floats; NaN
    whenever an input is not finite (Spearman's ranks would rank an infinite cosine as a large one)."""
    from scipy import stats         # here: importing nsw2v does not import scipy (a few tenths of a second)
    if not (np.isfinite(gold).all() and np.isfinite(model).all()):
        return (float("nan"), float("nan")), (float("nan"), float("nan"))
    pearson = stats.pearsonr(gold, model)
    spearman = stats.spearmanr(gold, model)
    return (float(pearson[0]), float(pearson[1])), (float(spearman[0]), float(spearman[1]))
