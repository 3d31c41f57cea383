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
and of out-of-vocabulary words, same return values), with NumPy only: the
p-values come from Student's t distribution computed here, not from SciPy.

File formats:

* analogies (``questions-words.txt``): ``": section name"`` lines, each followed
  by questions ``a b c expected`` meaning a : b :: c : expected;
* word pairs (``wordsim353.tsv``): ``word1<TAB>word2<TAB>score`` lines; lines
  starting with ``#`` are comments.
"""
from __future__ import annotations

import logging
import math
import os
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

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
    ValueError
        When a question comes before the first section header.
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
                raise ValueError(f"{name} line {line_no}: not UTF-8: {exc}") from None
            if line.startswith(": "):
                close_section()
                sections.append({"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []})
                continue
            fields = line.split()
            if not sections:
                if not fields:
                    continue
                raise ValueError(f"{name} line {line_no}: question before the first ': section' header")
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
    oov_ratio : float
        Percentage of pairs with an unknown word: of all valid pairs, or (as in
        gensim) of the pairs used when `dummy4unknown` (where both counts agree).

    Raises
    ------
    ValueError
        When no pair could be used.
    """
    n, ok_vocab = _ok_vocab(wv, restrict_vocab, case_insensitive)
    name = os.fspath(pairs)
    gold: list[float] = []
    left: list[int] = []
    right: list[int] = []  # -1 for an out-of-vocabulary pair kept by dummy4unknown
    oov = 0
    with open(name, encoding=encoding) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line or line.startswith("#"):
                continue
            fields = line.split(delimiter)
            if case_insensitive:
                fields = [f.upper() for f in fields]
            try:
                a, b, score = fields
                sim = float(score)
            except ValueError:
                logger.info("skipping invalid line %d in %s", line_no, name)
                continue
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
    normed = wv.get_normed_vectors()
    li, ri = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
    known = li >= 0
    model = np.zeros(len(gold), dtype=np.float64)
    model[known] = np.einsum("ij,ij->i", normed[li[known]], normed[ri[known]]).astype(np.float64)
    gold_arr = np.array(gold, dtype=np.float64)
    pearson = pearsonr(gold_arr, model)
    spearman = spearmanr(gold_arr, model)
    oov_ratio = 100.0 * oov / (len(gold) if dummy4unknown else len(gold) + oov)
    logger.info("Pearson correlation against %s: %.4f", name, pearson[0])
    logger.info("Spearman rank-order correlation against %s: %.4f", name, spearman[0])
    logger.info("pairs with unknown words: %.1f%%", oov_ratio)
    return pearson, spearman, oov_ratio


# ------------------------------------------------------------------ statistics


def pearsonr(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson's r and its two-sided p-value (Student's t with ``n - 2`` degrees of freedom).

    Returns ``(nan, nan)`` when either input is constant and ``(r, 1.0)`` for two points.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of the same length, got shapes {x.shape} and {y.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"a correlation needs at least 2 points, got {x.shape[0]}")
    xm, ym = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(np.dot(xm, xm)) * float(np.dot(ym, ym)))
    if denom == 0.0:
        return math.nan, math.nan
    r = max(-1.0, min(1.0, float(np.dot(xm, ym)) / denom))
    if x.shape[0] == 2:
        return r, 1.0
    return r, t_pvalue_from_r(r, x.shape[0] - 2)


def spearmanr(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho (Pearson's r of average ranks) and its two-sided t-test p-value."""
    return pearsonr(rankdata(x), rankdata(y))


def rankdata(x: np.ndarray) -> np.ndarray:
    """1-based ranks of `x`; tied values share the average of their ranks."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    # a new group starts wherever the sorted value changes
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.shape[0]]  # exclusive
    group_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.shape[0], dtype=np.float64)
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def t_pvalue_from_r(r: float, df: int) -> float:
    """Two-sided p-value of a correlation `r` under H0 (t = r * sqrt(df / (1 - r^2)))."""
    if abs(r) >= 1.0:
        return 0.0
    t2 = r * r * df / (1.0 - r * r)
    return t_sf2(math.sqrt(t2), df)


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail ``P(|T| >= |t|)`` of Student's t with `df` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"df={df} must be > 0")
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function ``I_x(a, b)`` for ``a, b > 0`` and ``0 <= x <= 1``.

    Evaluated with its continued fraction (modified Lentz), on the side of
    ``x = a / (a + b)`` where the fraction converges fast, and the symmetry
    ``I_x(a, b) = 1 - I_{1-x}(b, a)`` on the other.
    """
    if a <= 0 or b <= 0:
        raise ValueError(f"betainc needs a > 0 and b > 0, got a={a}, b={b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs 0 <= x <= 1, got x={x}")
    if x == 0.0 or x == 1.0:
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float, eps: float = 1e-15, max_terms: int = 10000) -> float:
    """Continued fraction of the incomplete beta function, by the modified Lentz method."""
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, max_terms + 1):
        # even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))
        num = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        # odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
        num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < eps:
            return h
    raise ArithmeticError(f"betainc({a}, {b}, {x}) did not converge in {max_terms} terms")
