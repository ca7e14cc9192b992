"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert len(namespace["result"].networks) == 12  # the last block's population
    fps = namespace["fps"]
    assert int(fps.is_stable.sum()) == 8
    assert len({tuple(c.int().tolist()) for c in namespace["corners"]}) == 8
    assert namespace["graph"].number_of_edges() > 0
    geometry, topology = namespace["geometry"], namespace["topology"]
    assert geometry.shape == topology.shape == (12, 12)
    assert namespace["embedding"].shape == (12, 2)


def test_readme_read_api_block_runs_on_a_study(tmp_path, monkeypatch):
    """The `rs.study.load` example, on a small study in the folder it names."""
    from rnnscope.study import StudySpec, run_study

    (block,) = [
        b
        for b in re.findall(r"```py\n(.*?)```", README.read_text(), flags=re.S)
        if "rs.study.load" in b
    ]
    monkeypatch.chdir(tmp_path)
    spec = StudySpec.model_validate(
        {"grid": {"architectures": ["gru"], "hidden_sizes": [8], "seeds": 2}, "train": {"max_steps": 100},
         "task": {"options": {"bits": 2, "steps": 20}}, "fixed_points": {"candidates": 32}, "probe": {"batch_size": 8}}
    )  # fmt: skip
    run_study(spec, tmp_path / "rnnscope-study").close()
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    assert namespace["d"].shape == (2, 2) and list(namespace["xy"].columns[:3]) == [
        "network",
        "x",
        "y",
    ]
    assert len(namespace["fps"]) == namespace["study"].networks.loc[0, "n_fixed"]
