"""Shared plumbing of the workflow examples: command line, progress bar, loss plot, summary line.

Every example is a module with ``main(argv=None) -> dict``: it parses ``--quick`` / ``--out`` /
``--seed``, runs its optimization, saves ``<out>/<name>_loss.png`` and returns its figures (the
tests in ``python/tests/test_examples*.py`` call ``main(["--quick", "--out", tmp])`` and assert on
the returned dict).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, Iterable, Optional, Sequence

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "outputs")


def parse_args(description: str, argv: Optional[Sequence[str]] = None, extra=None) -> argparse.Namespace:
    """The common flags; ``extra(parser)`` may add example-specific ones."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="the short run the tests use (under a minute on 2 cores)")
    p.add_argument("--out", default=DEFAULT_OUT, help="folder for plots and videos (default: outputs/)")
    p.add_argument("--seed", type=int, default=0, help="torch random seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay quiet)")
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    return args


class Progress:
    """A one-line progress bar with the current loss, written to stderr.

    >>> bar = Progress(100, "throw")
    >>> for it in bar: bar.set(loss=...)
    """

    def __init__(self, total: int, label: str, enabled: bool = True, width: int = 28):
        self.total, self.label, self.width = int(total), label, width
        self.enabled = enabled and sys.stderr is not None
        self.fields: Dict[str, float] = {}
        self.i = 0
        self.t0 = time.perf_counter()

    def __iter__(self) -> Iterable[int]:
        for self.i in range(self.total):
            yield self.i
            self._draw()
        self.close()

    def set(self, **fields: float) -> None:
        self.fields.update({k: float(v) for k, v in fields.items()})

    def _draw(self) -> None:
        if not self.enabled:
            return
        done = self.i + 1
        fill = int(self.width * done / max(self.total, 1))
        el = time.perf_counter() - self.t0
        eta = el / done * (self.total - done)
        vals = "  ".join(f"{k} {v:.4g}" for k, v in self.fields.items())
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {done}/{self.total}  {vals}  {el:.0f}s<{eta:.0f}s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def save_loss_plot(path: str, curves: Dict[str, Sequence[float]], title: str, xlabel: str = "iteration",
                   ylabel: str = "loss", logy: bool = True, x: Optional[Dict[str, Sequence[float]]] = None) -> str:
    """Plot one or more loss curves to a PNG (matplotlib's Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for name, ys in curves.items():
        xs = x[name] if x is not None and name in x else range(len(ys))
        ax.plot(list(xs), [float(y) for y in ys], label=name, lw=1.6)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summary(name: str, **figures) -> str:
    """Print the one-line summary every example ends with, and return it."""
    parts = []
    for k, v in figures.items():
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    line = f"[{name}] " + "  ".join(parts)
    print(line, flush=True)
    return line
