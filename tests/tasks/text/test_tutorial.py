"""docs/sentiment.md runs as written, and says what it finds."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "sentiment.md"


def test_sentiment_walkthrough_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 6
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    networks = namespace["result"].networks
    assert (networks["test_accuracy"] >= 0.95).all()
    assert namespace["bow"].test_accuracy > 0.9
    analysis = namespace["analysis"]
    assert analysis.is_line_attractor(min_tau=10)  # as the text says
    assert analysis.valence_auc >= 0.9
    replaced = namespace["replaced"]
    assert replaced.network_accuracy >= 0.9
    assert 0 <= replaced.agreement <= 1 and replaced.one_step_error > 0
    # modifiers: the planted flip and doubling, as the text says
    flip, double = namespace["effects"]
    assert -1.6 < flip.gain[0] < -0.5 and 1.5 < double.gain[0] < 2.6
    assert flip.gain_positive[0] < 0 and flip.gain_negative[0] < 0
    # three classes: a two-dimensional attractor
    assert namespace["plane"].line.dimension == 2
