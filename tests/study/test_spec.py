"""Study files: the example loads; malformed files fail with file, key and reason."""

import pytest

from rnnscope.study import EXAMPLE, SpecError, load_spec


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def test_example_loads_with_its_values(tmp_path):
    spec = load_spec(write(tmp_path, EXAMPLE))
    assert spec.task.name == "flipflop" and spec.task.options == {"bits": 3}
    assert spec.grid.architectures == ["vanilla", "gru", "lstm", "ugrnn"] and spec.grid.seeds == 4
    assert spec.compare.geometry == ["svcca"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("[grid\narchitectures = [", "not valid TOML"),
        ('colour = "red"\n', "colour: unknown key"),
        ('[grid]\narchitecure = ["gru"]\n', "grid.architecure: unknown key"),
        ('[grid]\nseeds = "four"\n', "grid.seeds: Input should be a valid integer"),
        ("[train]\nmax_steps = 0\n", "train.max_steps: Input should be greater than 0"),
        (
            "[grid]\nlearning_rates = [-0.1]\n",
            "grid.learning_rates: Value error, learning rates must be positive",
        ),
        ('[grid]\narchitectures = ["transformer"]\n', "unknown architecture 'transformer'"),
        ('[task]\nname = "maze"\n', "task.name: Value error, unknown task 'maze'"),
        (
            '[task]\nname = "flipflop"\noptions = { bits = 0 }\n',
            "task options: bits must be a positive integer",
        ),
        ("[grid]\narchitectures = []\n", "grid.architectures: List should have at least 1 item"),
        ('[compare]\ngeometry = ["euclid"]\n', "compare.geometry.0: Input should be"),
        (
            "[fixed_points]\nnoise = -1.0\n",
            "fixed_points.noise: Input should be greater than or equal to 0",
        ),
        (b"\xff\xfe\x00binary", "not a text file"),
        (
            '[task]\nname = "sentiment"\noptions = { corpus = "reviews.csv" }\n',
            "task options: corpus .*reviews.csv.* is neither one of imdb",
        ),
        (
            '[task]\nname = "sentiment"\noptions = { corpus = "imdb", max_length = 0 }\n',
            "task options: max_length must be a positive integer",
        ),
        (
            '[task]\nname = "sentiment"\noptions = { corpus = "imdb", vocab = 10 }\n',
            "task options: .*unexpected keyword argument 'vocab'",
        ),
    ],
)
def test_malformed_study_files_are_named(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match=match) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="no such study file"):
        load_spec(tmp_path / "nope.toml")


def test_sentiment_corpus_path_is_relative_to_the_study_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reviews.csv").write_text("text,label\ngood,1\nbad,0\nfine,1\n")
    path = write(
        tmp_path, '[task]\nname = "sentiment"\noptions = { corpus = "data/reviews.csv" }\n'
    )
    spec = load_spec(path)
    assert spec.task.options["corpus"] == str(tmp_path / "data" / "reviews.csv")


def test_a_cluster_section_builds_the_slurm_job_script(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from rnnscope.study.executors import slurm_cluster

    path = write(
        tmp_path,
        '[cluster]\njobs = 4\ncores = 2\nmemory = "8GB"\nwalltime = "02:00:00"\nqueue = "short"\n'
        'account = "lab"\njob_extra_directives = ["--qos=low"]\n',
    )
    spec = load_spec(path)
    assert spec.cluster.jobs == 4
    cluster = slurm_cluster(**spec.cluster.cluster_options())
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH -A lab", "#SBATCH --qos=low", "#SBATCH -t 02:00:00",
                 "#SBATCH --cpus-per-task=2", "export OMP_NUM_THREADS=1"):  # fmt: skip
        assert line in script, line


def test_dask_slurm_without_a_cluster_section_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from rnnscope.cli import app

    path = write(tmp_path, '[grid]\narchitectures = ["gru"]\n')
    result = CliRunner().invoke(app, ["run", str(path), "--dask", "slurm"])
    assert result.exit_code == 1 and "--dask slurm needs a [cluster] section" in result.output
