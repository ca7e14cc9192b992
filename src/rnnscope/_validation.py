"""Input checks shared across the package: clear messages, raised early."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return value


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise name the valid ones."""
    options = tuple(choices)
    if value not in options:
        raise ValueError(
            f"unknown {name} {value!r}; choose one of {', '.join(map(repr, options))}."
        )
    return value  # type: ignore[return-value]


def check_finite_params(params: Mapping[str, torch.Tensor], where: str = "params") -> None:
    """Raise if any parameter tensor holds NaN or inf, naming the tensor."""
    for key, value in params.items():
        if not torch.is_tensor(value):
            raise TypeError(f"{where}[{key!r}] must be a torch tensor, got {type(value).__name__}.")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"{where}[{key!r}] contains NaN or inf values; re-initialize or load "
                "finite parameters (a diverged network cannot be run)."
            )


def as_float_tensor(name: str, value: object, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert array-likes to a floating tensor; refuse integer/bool/complex data."""
    t = value if torch.is_tensor(value) else torch.as_tensor(value)
    if not t.is_floating_point():
        raise TypeError(
            f"{name} must hold floating-point values, got dtype {t.dtype}; "
            "convert it with .float() or np.asarray(..., dtype=np.float32)."
        )
    return t if dtype is None else t.to(dtype)
