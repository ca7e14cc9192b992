"""Bring your own network: torch.nn modules in and out, any module as a step function,
and recorded neural data."""

from __future__ import annotations

from .modules import ModuleStep, step_from_module
from .recordings import load_recording, rank_models
from .torch_modules import SUPPORTED, from_torch, to_torch

__all__ = [
    "SUPPORTED",
    "ModuleStep",
    "from_torch",
    "load_recording",
    "rank_models",
    "step_from_module",
    "to_torch",
]
