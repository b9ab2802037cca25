"""One scene, one thread at a time.

A scene's state lives in Python (pending steps, control writes, the state tensors) and in the
native sim; a call that reads or changes it must not interleave with another thread's. Each
scene has a reentrant lock, which its objects (the scene, its solver, entities, links,
cameras) keep as ``_lock``, and every public method of theirs holds it while it runs: calls
from two threads are serialized, each one counted, and a reading never sees a half-done
step. A thread waiting for the lock releases the GIL, and the native calls release it too, so
two threads stepping two different scenes still run in parallel.

The lock costs about 0.2 us per call; a control loop makes two calls a step
(``control_dofs_*`` and ``step``), which take the lock in their own bodies
(:func:`self_locking`) to spare the wrapper's frame.
"""

from __future__ import annotations

import functools


def serialized(cls):
    """Class decorator: every public method of ``cls`` holds ``self._lock`` while it runs,
    except those marked :func:`self_locking`."""
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") or not callable(attr) or isinstance(attr, (staticmethod, classmethod, type)):
            continue
        if getattr(attr, "_self_locking", False):
            continue
        setattr(cls, name, _locked(attr))
    return cls


def self_locking(fn):
    """Mark ``fn`` as taking its object's lock itself (see the module docstring)."""
    fn._self_locking = True
    return fn


def _locked(fn):
    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        lock = self._lock
        lock.acquire()
        try:
            return fn(self, *args, **kwargs)
        finally:
            lock.release()

    return method
