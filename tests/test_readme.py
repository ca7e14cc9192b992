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
