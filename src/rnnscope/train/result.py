"""What a trainer returns: trained groups and one row per network."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..cells._base import Params


@dataclass
class TrainedGroup:
    """Networks trained together: one network object and stacked parameters.

    Attributes:
        network: the shared architecture (:class:`rnnscope.RNN` or :class:`rnnscope.TextRNN`).
        ids: grid network ids, in the order of the population axis.
        params: parameters ``[len(ids), ...]``, always on the CPU.
    """

    network: object
    ids: list[int]
    params: Params


@dataclass
class TrainResult:
    """What :func:`train_population` and :func:`train_text_population` return.

    Attributes:
        networks: one row per network: the grid's columns plus ``status``
            (``solved`` / ``unsolved`` / ``diverged``), ``steps``, ``loss`` (last
            training loss), ``eval_loss`` and ``accuracy`` (evaluation), ``wall_time_s``
            (from its group's start until it stopped), and what the trainer adds.
        history: ``network, step, loss, accuracy`` every ``log_every`` steps
            (accuracy where it was evaluated, else NaN).
        groups: the trained parameters, by group (CPU tensors).
        task: the task (or text data set) trained on.
        config: the trainer's config.
    """

    networks: pd.DataFrame
    history: pd.DataFrame
    groups: list[TrainedGroup]
    task: object
    config: object

    def network(self, network_id: int) -> tuple[object, Params]:
        """The architecture and parameters ``[1, ...]`` of one network."""
        for group in self.groups:
            if network_id in group.ids:
                i = group.ids.index(network_id)
                return group.network, {k: v[i : i + 1].clone() for k, v in group.params.items()}
        raise KeyError(f"no network with id {network_id}; ids run over result.networks['network'].")

    def summary(self) -> pd.DataFrame:
        """Per architecture: networks, solved, diverged, median accuracy and steps."""
        return architecture_summary(
            self.networks, median_steps=("steps", "median"), wall_time_s=("wall_time_s", "max")
        )


def architecture_summary(networks: pd.DataFrame, **extra) -> pd.DataFrame:
    """Per architecture: networks, solved, diverged, median accuracy, and any ``extra``
    pandas named aggregations (``name=(column, function)``)."""
    marked = networks.assign(
        solved=networks["status"].eq("solved"), diverged=networks["status"].eq("diverged")
    )
    return (
        marked.groupby("architecture", sort=False)
        .agg(
            networks=("network", "size"),
            solved=("solved", "sum"),
            diverged=("diverged", "sum"),
            median_accuracy=("accuracy", "median"),
            **extra,
        )
        .reset_index()
    )
