"""A split, encoded text dataset: vocabulary from training texts only, truncation."""

import numpy as np
import pytest

from rnnscope.tasks.text import Corpus, prepare_text, valence_language


def test_split_vocabulary_and_truncation():
    corpus = valence_language(200, length=(10, 30), seed=1)
    data = prepare_text(corpus, fractions=(0.6, 0.2, 0.2), seed=3, max_length=8, min_count=1)
    assert (len(data.train), len(data.validation), len(data.test)) == (120, 40, 40)
    again = prepare_text(corpus, fractions=(0.6, 0.2, 0.2), seed=3, max_length=8, min_count=1)
    assert data.train.texts == again.train.texts
    # texts are stored whole; the networks read the last 8 tokens
    full = data.train.ids[0]
    assert len(full) >= 10 and data.truncated("train")[0] == full[-8:]
    first = prepare_text(corpus, seed=3, max_length=8, keep="first", min_count=1)
    assert first.truncated("train")[0] == first.train.ids[0][:8]
    tokens, lengths, labels = next(data.batches("train", 16, seed=0))
    assert tokens.shape[1] == 8 and lengths.max() == 8 and len(labels) == 16
    summary = data.summary()
    assert summary["train"]["texts"] == 120 and summary["max_length"] == 8


def test_vocabulary_is_built_on_the_training_split_only():
    texts = ["alpha beta"] * 8 + ["gamma delta"] * 2
    corpus = Corpus(texts, np.array([1] * 8 + [0] * 2))
    data = prepare_text(corpus, fractions=(0.8, 0.1, 0.1), seed=0, min_count=1)
    train_words = {w for t in data.train.texts for w in t.split()}
    assert set(data.vocabulary.tokens[2:]) == train_words


def test_bad_inputs():
    corpus = valence_language(20, seed=0)
    with pytest.raises(ValueError, match="keep"):
        prepare_text(corpus, keep="middle")
    with pytest.raises(ValueError, match="max_length"):
        prepare_text(corpus, max_length=0)
    with pytest.raises(ValueError, match="class ids 0 … C−1"):
        prepare_text(Corpus(["a", "b", "c"], np.array([0, -1, 1])))
    with pytest.raises(ValueError, match="class ids 0 … C−1"):
        prepare_text(Corpus(["a", "b", "c"], np.array([0.5, 0, 1])))
    assert prepare_text(Corpus(["a", "b", "c"], np.array([0, 2, 1]))).classes == 3
    with pytest.raises(ValueError, match="split"):
        prepare_text(corpus).split("dev")


def test_sentiment_task_names_missing_extra_and_bad_corpus(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from rnnscope.cli import app
    from rnnscope.tasks.text import Sentiment, task

    monkeypatch.setattr(task, "_has_offline_corpus", lambda: False)
    with pytest.raises(ValueError, match=r"pip install 'rnnscope\[text\]'"):
        Sentiment("imdb")
    study = tmp_path / "s.toml"
    study.write_text('[task]\nname = "sentiment"\noptions = { corpus = "imdb" }\n')
    result = CliRunner().invoke(app, ["run", str(study)])
    assert result.exit_code == 1 and "rnnscope[text]" in result.output
    with pytest.raises(ValueError, match="neither one of"):
        Sentiment(str(tmp_path / "missing.csv"))
    assert Sentiment("synthetic", synthetic_size=30).data.summary()["train"]["texts"] == 24
