"""Analogy and word-pair evaluation: hand-computed cases, p-values against closed forms, gensim parity."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nsw2v.errors import ReadError
from nsw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs
from nsw2v.vectors import WordVectors

EVAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"


def eval_file(name: str) -> Path:
    path = EVAL_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not found (the shared evaluation data is not in this checkout)")
    return path


# man : king :: woman : queen (exactly: king - man + woman == queen); "Woman" is a case variant of
# "woman" pointing exactly along unit(king) - unit(man) + unit(woman), so it beats queen unless
# case-insensitive matching recognises it as a question word.
SQ2 = math.sqrt(0.5)
WORDS = ["man", "woman", "king", "prince", "apple", "queen", "Woman"]
VECS = np.array(
    [
        [1.0, 0.0, 0.0],  # man
        [1.0, 1.0, 0.0],  # woman
        [1.0, 0.0, 1.0],  # king
        [1.0, 0.3, 1.2],  # prince
        [0.0, 0.0, -1.0],  # apple
        [1.0, 1.0, 1.0],  # queen
        [2 * SQ2 - 1, SQ2, SQ2],  # Woman
    ],
    dtype=np.float32,
)

QUESTIONS = """\
: royalty
man king woman queen
Woman Queen Man King
: mixed
man king woman prince
man woman king queen
man king woman empress
this line is invalid too
: unknown
cat kitten dog puppy
"""
# royalty: both correct (the second is all upper-case variants); mixed: the prince question is
# answered "queen" (incorrect), man:woman::king:queen is correct, "empress" is OOV; the invalid line
# is ignored; unknown: only OOV.


@pytest.fixture
def wv() -> WordVectors:
    return WordVectors(WORDS, VECS)


@pytest.fixture
def questions(tmp_path) -> Path:
    path = tmp_path / "questions.txt"
    path.write_text(QUESTIONS, encoding="utf8")
    return path


def up(*words: str) -> tuple[str, ...]:
    return tuple(w.upper() for w in words)


def test_analogies_by_hand(wv, questions):
    accuracy, sections = evaluate_word_analogies(wv, questions)
    assert [s["section"] for s in sections] == ["royalty", "mixed", "unknown", "Total accuracy"]
    royalty, mixed, unknown, total = sections
    assert royalty["correct"] == [up("man", "king", "woman", "queen"), up("woman", "queen", "man", "king")]
    assert royalty["incorrect"] == [] and royalty["skipped"] == 0
    assert mixed["correct"] == [up("man", "woman", "king", "queen")]
    assert mixed["incorrect"] == [up("man", "king", "woman", "prince")]
    assert mixed["skipped"] == 1
    assert unknown["correct"] == unknown["incorrect"] == [] and unknown["skipped"] == 1
    assert total["correct"] == royalty["correct"] + mixed["correct"]
    assert total["incorrect"] == mixed["incorrect"]
    assert total["skipped"] == 2
    assert total["oov_ratio"] == pytest.approx(100 * 2 / 6)
    assert accuracy == pytest.approx(3 / 4)


def test_analogies_dummy4unknown_counts_oov_as_incorrect(wv, questions):
    accuracy, sections = evaluate_word_analogies(wv, questions, dummy4unknown=True)
    royalty, mixed, unknown, total = sections
    # file order is kept: prince (wrong), queen (right), empress (OOV)
    assert mixed["incorrect"] == [up("man", "king", "woman", "prince"), up("man", "king", "woman", "empress")]
    assert unknown["incorrect"] == [up("cat", "kitten", "dog", "puppy")]
    assert total["skipped"] == 0 and total["oov_ratio"] == pytest.approx(100 * 2 / 6)
    assert accuracy == pytest.approx(3 / 6)


def test_analogies_case_sensitive(wv, questions):
    accuracy, sections = evaluate_word_analogies(wv, questions, case_insensitive=False)
    royalty, mixed, _, total = sections
    # "Woman" is a different word now, and it points exactly along king - man + woman
    # (= woman - man + king): it is the answer to every question below
    assert royalty["incorrect"] == [("man", "king", "woman", "queen")]
    # "Queen", "Man", "King" are not in the vocabulary
    assert royalty["correct"] == [] and royalty["skipped"] == 1
    assert mixed["correct"] == []
    assert mixed["incorrect"] == [("man", "king", "woman", "prince"), ("man", "woman", "king", "queen")]
    assert accuracy == 0.0
    assert total["skipped"] == 3


def test_analogies_restrict_vocab(wv, questions):
    # the first 5 words exclude queen: every question that needs it becomes OOV
    accuracy, sections = evaluate_word_analogies(wv, questions, restrict_vocab=5)
    royalty, mixed, _, total = sections
    assert royalty["correct"] == royalty["incorrect"] == [] and royalty["skipped"] == 2
    # man:king::woman:prince is now answered correctly: queen is not a candidate any more
    assert mixed["correct"] == [up("man", "king", "woman", "prince")]
    assert accuracy == 1.0 and total["skipped"] == 5


def test_analogies_need_a_section_header(wv, tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("\nman king woman queen\n")
    with pytest.raises(ReadError, match=r"q.txt line 2: question before the first ': section' header"):
        evaluate_word_analogies(wv, path)


def test_analogies_file_must_be_utf8(wv, tmp_path):
    path = tmp_path / "q.txt"
    path.write_bytes(b": s\nman king woman qu\xe9en\n")
    with pytest.raises(ReadError, match=r"q.txt line 2: not UTF-8 \(invalid continuation byte at byte 17"):
        evaluate_word_analogies(wv, path)


@pytest.mark.parametrize("text", ["", "\n\n", ": section\nman king\nnot four words at all here\n", ": a\n: b\n"])
def test_analogies_without_a_question_are_an_error(wv, tmp_path, text):
    """Not 0.00% (0/0): an empty or all-malformed file says so (issue 14)."""
    path = tmp_path / "q.txt"
    path.write_text(text)
    with pytest.raises(ReadError, match=r"q.txt: no analogy question in the file"):
        evaluate_word_analogies(wv, path)


def test_wordvectors_method_shortcuts(wv, questions):
    assert wv.evaluate_word_analogies(questions, dummy4unknown=True)[0] == pytest.approx(0.5)


# -------------------------------------------------------------------- pairs

# 2-D unit vectors at known angles: the pairs below have cosines 0.5, cos(100 deg), -1, 1, cos(40 deg)
ANGLES = {"a": 0, "b": 60, "c": 100, "d": 180, "e": 0}
PAIR_VECS = WordVectors(
    list(ANGLES),
    np.array([[math.cos(math.radians(t)), math.sin(math.radians(t))] for t in ANGLES.values()], dtype=np.float32),
)
PAIRS = """\
# comment line
A\tb\t5
a\tc\t3
a\td\t1
a\tzebra\t4
a\te\t9
not enough\tfields
b\tc\tfive
b\tc\t5
"""
GOLD = [5.0, 3.0, 1.0, 9.0, 5.0]
MODEL = [0.5, math.cos(math.radians(100)), -1.0, 1.0, math.cos(math.radians(40))]


@pytest.fixture
def pairs(tmp_path) -> Path:
    path = tmp_path / "pairs.tsv"
    path.write_text(PAIRS, encoding="utf8")
    return path


def plain_pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def t3_two_sided(t: float) -> float:
    """Closed form for 3 degrees of freedom: 1 - (2/pi)(theta + sin(theta) cos(theta)), theta = atan(t/sqrt 3)."""
    theta = math.atan(t / math.sqrt(3))
    return 1 - 2 / math.pi * (theta + math.sin(theta) * math.cos(theta))


def test_pairs_by_hand(pairs):
    (r, p_r), (rho, p_rho), oov_ratio = evaluate_word_pairs(PAIR_VECS, pairs)
    assert oov_ratio == pytest.approx(100 / 6)  # one of six valid lines has "zebra"
    assert r == pytest.approx(plain_pearson(GOLD, MODEL), rel=1e-6)
    # gold ranks with the tie at 5: [3.5, 2, 1, 5, 3.5]; model ranks [3, 2, 1, 5, 4]
    # sum dx*dy = 9.5, sum dx^2 = 9.5, sum dy^2 = 10  ->  rho = sqrt(0.95)
    assert rho == pytest.approx(math.sqrt(0.95), rel=1e-12)
    t = math.sqrt(0.95) * math.sqrt(3 / 0.05)
    assert p_rho == pytest.approx(t3_two_sided(t), rel=1e-9)
    t_r = r * math.sqrt(3 / (1 - r * r))
    assert p_r == pytest.approx(t3_two_sided(t_r), rel=1e-9)
    assert all(type(v) is float for v in (r, p_r, rho, p_rho, oov_ratio))


def test_pairs_dummy4unknown_and_case(pairs):
    (r, _), (rho, _), oov_ratio = evaluate_word_pairs(PAIR_VECS, pairs, dummy4unknown=True)
    gold, model = GOLD[:3] + [4.0] + GOLD[3:], MODEL[:3] + [0.0] + MODEL[3:]
    assert r == pytest.approx(plain_pearson(gold, model), rel=1e-6)
    # gold ranks [4.5, 2, 1, 3, 6, 4.5], model ranks [4, 2, 1, 3, 6, 5]: rho = 17 / sqrt(17 * 17.5)
    assert rho == pytest.approx(math.sqrt(34 / 35), rel=1e-12)
    assert oov_ratio == pytest.approx(100 / 6)
    # case-sensitive: "A" is unknown as well
    (r, _), _, oov_ratio = evaluate_word_pairs(PAIR_VECS, pairs, case_insensitive=False)
    assert oov_ratio == pytest.approx(200 / 6)
    assert r == pytest.approx(plain_pearson(GOLD[1:], MODEL[1:]), rel=1e-6)


def test_pairs_restrict_vocab_and_errors(pairs, tmp_path):
    # only a, b, c known: pairs with d or e are OOV too
    _, (rho, _), oov_ratio = evaluate_word_pairs(PAIR_VECS, pairs, restrict_vocab=3)
    assert oov_ratio == pytest.approx(300 / 6)
    # gold (5, 3, 5) ranks [2.5, 1, 2.5], model ranks [2, 1, 3]: rho = 1.5 / sqrt(1.5 * 2)
    assert rho == pytest.approx(math.sqrt(3) / 2, rel=1e-12)
    empty = tmp_path / "none.tsv"
    empty.write_text("# nothing\nx\ty\t1\n")
    with pytest.raises(ValueError, match="none.tsv: no usable word pairs"):
        evaluate_word_pairs(PAIR_VECS, empty)


def test_pairs_other_delimiter(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("a,b,1\na,c,2\na,d,0\n")
    (r, _), (rho, _), _ = evaluate_word_pairs(PAIR_VECS, path, delimiter=",")
    # gold ranks [2, 3, 1], model (0.5, -0.17, -1) ranks [3, 2, 1]: rho = 1 / 2
    assert rho == pytest.approx(0.5)


def test_pairs_p_values_for_two_points_and_a_perfect_fit(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\t2\na\td\t1\n")            # two points: r = 1, nothing to test it against
    (r, p), (rho, p_rho), _ = evaluate_word_pairs(PAIR_VECS, path)
    assert r == pytest.approx(1.0) and p == pytest.approx(1.0) and rho == pytest.approx(1.0)
    path.write_text("a\tb\t3\na\tc\t2\na\td\t1\n")   # monotone: rho = 1 exactly, p = 0
    _, (rho, p_rho), _ = evaluate_word_pairs(PAIR_VECS, path)
    assert rho == pytest.approx(1.0) and p_rho == pytest.approx(0.0, abs=1e-12)


def test_pairs_with_non_finite_vectors_are_nan_not_one(tmp_path):
    """max(-1, min(1, nan)) gave 1.000 before; gensim reports nan (issue 14)."""
    vecs = PAIR_VECS.vectors.copy()
    vecs[1] = np.nan                                    # b
    vecs[2, 0] = np.inf                                 # c
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\t5\na\tc\t3\na\td\t1\na\te\t9\n")
    for broken in ([1], [2]):
        only = PAIR_VECS.vectors.copy()
        only[broken] = vecs[broken]
        with pytest.warns(RuntimeWarning, match="1 of the 4 pairs have a non-finite cosine"):
            (r, p), (rho, p_rho), _ = evaluate_word_pairs(WordVectors(list(ANGLES), only), path)
        assert all(math.isnan(v) for v in (r, p, rho, p_rho))


@pytest.mark.parametrize("score", ["nan", "inf", "-Infinity"])
def test_pairs_with_a_non_finite_gold_score_are_refused(tmp_path, score):
    path = tmp_path / "pairs.tsv"
    path.write_text(f"a\tb\t5\na\tc\t{score}\na\td\t1\n")
    with pytest.raises(ReadError, match=rf"pairs.tsv line 2: the score '{score}' is not a finite number"):
        evaluate_word_pairs(PAIR_VECS, path)


def test_pairs_file_must_be_in_its_encoding(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"a\tb\t5\nb\tc\xff\t1\na\td\t1\n")
    with pytest.raises(ReadError, match=r"pairs.tsv line 2: not utf8 \(invalid start byte at byte 3"):
        evaluate_word_pairs(PAIR_VECS, path)
    (r, _), _, _ = evaluate_word_pairs(PAIR_VECS, path, encoding="latin-1")     # the right encoding reads
    assert r == pytest.approx(1.0)


def test_pairs_need_two_and_constant_scores_are_nan(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\t5\n")
    with pytest.raises(ValueError, match="pairs.tsv: one usable word pair; a correlation needs at least 2"):
        evaluate_word_pairs(PAIR_VECS, path)
    path.write_text("a\tb\t5\na\tc\t5\na\td\t5\n")
    with pytest.warns(Warning, match="constant"):                # scipy's ConstantInputWarning
        (r, _), (rho, _), _ = evaluate_word_pairs(PAIR_VECS, path)
    assert math.isnan(r) and math.isnan(rho)


# -------------------------------------------------------------------- gensim


def structured_vectors(words: list[str], groups: list[list[tuple[str, str]]], seed: int, size: int = 24):
    """Random vectors where each group's (x, y) pairs share an offset, loosely (so some answers are wrong)."""
    rng = np.random.default_rng(seed)
    index = {w: i for i, w in enumerate(words)}
    vecs = rng.standard_normal((len(words), size))
    for group in groups:
        offset = rng.standard_normal(size)
        for x, y in group:
            if x in index and y in index:
                vecs[index[y]] = 0.5 * vecs[index[y]] + 0.5 * (vecs[index[x]] + offset)
    return vecs.astype(np.float32)


@pytest.fixture(scope="module")
def gensim_kv():
    return pytest.importorskip("gensim.models").KeyedVectors


def to_gensim(kv_class, wv: WordVectors):
    kv = kv_class(vector_size=wv.vector_size)
    kv.add_vectors(wv.index_to_key, wv.vectors)
    return kv


@pytest.fixture(scope="module")
def analogy_setup(tmp_path_factory):
    """The first 30 questions of each section of questions-words.txt, and vectors for its words."""
    lines = eval_file("questions-words.txt").read_text(encoding="utf8").splitlines()
    kept, per_section, groups = [], 0, []
    words: dict[str, None] = {}
    for line in lines:
        if line.startswith(": "):
            kept.append(line)
            per_section = 0
            groups.append([])
        elif per_section < 30:
            kept.append(line)
            per_section += 1
            a, b, c, d = line.split()
            groups[-1] += [(a, b), (c, d)]
            words.update(dict.fromkeys((a, b, c, d)))
    # a lower-case variant of every third word, right after it and close to it, so that the
    # case-insensitive mode has variants to skip and the case-sensitive mode answers with them
    originals = list(words)
    vocab: list[str] = []
    variant_of: dict[str, str] = {}
    for i, w in enumerate(originals):
        vocab.append(w)
        if i % 3 == 0 and w.lower() != w and w.lower() not in words:
            vocab.append(w.lower())
            variant_of[w.lower()] = w
    vecs = structured_vectors(vocab, groups, seed=11)
    index = {w: i for i, w in enumerate(vocab)}
    rng = np.random.default_rng(12)
    for v, original in variant_of.items():
        vecs[index[v]] = vecs[index[original]] + 0.3 * rng.standard_normal(vecs.shape[1]).astype(np.float32)
    path = tmp_path_factory.mktemp("eval") / "questions-subset.txt"
    path.write_text("\n".join(kept) + "\n", encoding="utf8")
    return WordVectors(vocab, vecs), path


@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_analogies_agree_with_gensim(gensim_kv, analogy_setup, case_insensitive, dummy4unknown):
    wv, path = analogy_setup
    restrict = int(len(wv) * 0.8)  # some questions fall outside: OOV handling is compared too
    kwargs = dict(restrict_vocab=restrict, case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)
    ours_acc, ours = evaluate_word_analogies(wv, path, **kwargs)
    theirs_acc, theirs = to_gensim(gensim_kv, wv).evaluate_word_analogies(str(path), **kwargs)
    assert ours_acc == pytest.approx(theirs_acc, abs=1e-12)
    assert 0.05 < ours_acc < 0.95  # a mix of right and wrong answers, so the comparison means something
    assert len(ours) == len(theirs) == 15
    for mine, gen in zip(ours, theirs):
        assert {k: mine[k] for k in ("section", "correct", "incorrect")} == gen
    assert ours[-1]["skipped"] > 0 if not dummy4unknown else ours[-1]["skipped"] == 0


@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_pairs_agree_with_gensim(gensim_kv, case_insensitive, dummy4unknown):
    path = eval_file("wordsim353.tsv")
    rows = [line.split("\t") for line in path.read_text(encoding="utf8").splitlines() if not line.startswith("#")]
    words = list(dict.fromkeys(w for a, b, _ in rows for w in (a, b)))
    # pull each pair together in proportion to its human score, so correlations are clearly positive
    groups = [[(a, b)] for a, b, s in rows if float(s) > 6]
    wv = WordVectors(words, structured_vectors(words, groups, seed=5))
    kwargs = dict(restrict_vocab=len(words) - 40, case_insensitive=case_insensitive, dummy4unknown=dummy4unknown)
    pearson, spearman, oov = evaluate_word_pairs(wv, path, **kwargs)
    g_pearson, g_spearman, g_oov = to_gensim(gensim_kv, wv).evaluate_word_pairs(str(path), **kwargs)
    assert pearson[0] > 0.1 and oov > 0
    np.testing.assert_allclose(pearson, tuple(g_pearson), rtol=1e-5)
    np.testing.assert_allclose(spearman, tuple(g_spearman), rtol=1e-5)
    assert oov == pytest.approx(g_oov, rel=1e-12)


def test_full_questions_file_runs_fast(analogy_setup):
    """The whole 19544-question file in one call (vectorised: well under a second)."""
    wv, _ = analogy_setup
    accuracy, sections = evaluate_word_analogies(wv, eval_file("questions-words.txt"), restrict_vocab=len(wv))
    total = sections[-1]
    assert len(sections) == 15
    assert len(total["correct"]) + len(total["incorrect"]) + total["skipped"] == 19544
    assert 0.0 < accuracy < 1.0
