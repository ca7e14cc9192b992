"""The prepared GPU script runs end to end (on the CPU, tiny sizes) and its checks pass."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"


def test_gpu_check_smoke_run(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--smoke", "--json", str(tmp_path / "out.json")])
    errors = {k: v for k, v in results.items() if k.endswith("error")}
    assert not errors, errors
    checks = {k: v for k, v in results.items() if k.startswith("check:")}
    assert len(checks) >= 10 and all(checks.values()), checks
    for key in (
        "rate_population",
        "rate_torch_nn",
        "rate_cpu_population",
        "fixed_points_s",
        "svcca_s",
    ):
        assert results[key] > 0, key
    assert (tmp_path / "out.json").exists()
