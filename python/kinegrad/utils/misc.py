"""Genesis's ``genesis.utils.misc`` helpers that scripts use."""

from __future__ import annotations

import numpy as np
import torch


def tensor_to_array(x) -> np.ndarray:
    """A numpy array of a tensor (detached, on the CPU) or of anything numpy takes."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
