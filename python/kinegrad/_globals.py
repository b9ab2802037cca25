"""Process-wide settings made by ``gs.init``: precision, dtype, device, logger."""

from __future__ import annotations

import logging

import torch
from ._errors import GenesisRuntimeError

logger = logging.getLogger("kinegrad")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("[kinegrad] %(levelname)s %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)

initialized = False
precision = "32"
tc_float = torch.float32
device = torch.device("cpu")
seed = None


def require_init(what: str) -> None:
    if not initialized:
        raise GenesisRuntimeError(f"{what}: call gs.init() before creating a scene")
