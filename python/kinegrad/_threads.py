"""One scene, one thread at a time.

A scene's state lives in Python (pending steps, control writes, the state tensors) and in the
native sim; a call that reads or changes it must not interleave with another thread's. Each
scene has a reentrant lock, and every public method of the scene's objects (the scene, its
solver, entities, links, cameras) holds it while it runs: calls from two threads are
serialized, each one counted, and a reading never sees a half-done step. The lock is released
while a thread waits for it, and the native calls release the GIL, so two threads stepping two
different scenes still run in parallel.
"""

from __future__ import annotations

import functools
from typing import Callable


def serialized(scene_of: Callable):
    """Class decorator: every public method of the class holds ``scene_of(self)._lock``."""

    def decorate(cls):
        for name, attr in list(vars(cls).items()):
            if name.startswith("_") or not callable(attr) or isinstance(attr, (staticmethod, classmethod, type)):
                continue
            setattr(cls, name, _locked(attr, scene_of))
        return cls

    return decorate


def _locked(fn, scene_of):
    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        with scene_of(self)._lock:
            return fn(self, *args, **kwargs)

    return method
