"""``gs.Tensor``: a torch.Tensor subclass that remembers the scene it came from.

A gs.Tensor refers to its scene weakly: holding a reading does not keep a dropped scene alive
(``scene`` is then None). Were the reference strong, any tensor torch's graph keeps (a saved
input of a policy's layer, the base of a view) would tie the scene to its own state tensors in a
reference cycle that the garbage collector cannot see through torch's C++ graph, and a scene
that recorded gradients would never be freed.

The ``scene`` attribute propagates through every torch op (``__torch_function__``):
a result takes the scene of its gs.Tensor arguments, and an op mixing tensors of two
different scenes raises. Tensors without a scene (``scene is None``) behave like plain
torch tensors. Creation ops (``gs.tensor``, ``gs.zeros``, ...) use the precision chosen
by ``gs.init``: floats become ``gs.tc_float``, integers ``gs.tc_int``.

Cost: an op's new result becomes the gs.Tensor itself (its Python class is changed), so a
graph of gs.Tensor ops has the same nodes as the plain torch one; only results the caller
may still hold (in-place and ``out=`` results, containers) are aliased with ``as_subclass``.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, Optional
from weakref import ReferenceType as _Ref
from weakref import getweakrefcount as _weakrefs
from weakref import ref as _weakref

import numpy as np
import torch

from . import _globals
from ._errors import GenesisRuntimeError, InvalidArgument

__all__ = ["Tensor", "tensor", "zeros", "ones", "rand", "randn", "from_numpy", "from_torch"]


def _ref(scene):
    """What a gs.Tensor stores of ``scene``: a weak reference (one per scene: CPython hands out
    the same reference object for the same scene, so references compare with ``is``)."""
    return scene if scene is None or type(scene) is _Ref else _weakref(scene)


def _scene_name(ref) -> str:
    return f"<Scene id={id(ref()):#x}>"


def _find_scene(obj, found: list) -> None:
    if isinstance(obj, Tensor):
        sc = obj.__dict__.get("scene")
        if sc is not None and sc() is not None and not any(sc is f for f in found):
            found.append(sc)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _find_scene(x, found)
    elif isinstance(obj, dict):
        for x in obj.values():
            _find_scene(x, found)


def common_scene(*objs, what: str = "operation"):
    """The one live scene (its weak reference) of the gs.Tensors among ``objs`` (None if none
    has one); raises on two."""
    found: list = []
    for o in objs:
        _find_scene(o, found)
    if len(found) > 1:
        raise GenesisRuntimeError(
            f"{what}: mixes gs.Tensors of two different scenes ({_scene_name(found[0])} and "
            f"{_scene_name(found[1])}); gradients cannot flow between scenes. Detach one of them "
            "(t.detach()) or use tensors of a single scene"
        )
    return found[0] if found else None


def _fresh_refs() -> int:
    """What ``sys.getrefcount`` reports for an object only a local variable holds, in code of
    the shape of ``__torch_function__``'s test (interpreters differ: 3.14 borrows the local's
    reference); -1 where the count says nothing (a free-threaded build)."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return -1
    ret = torch.empty(0)
    return sys.getrefcount(ret)


_FRESH_REFS = _fresh_refs()
_DETACHING = {torch.Tensor.detach, torch.detach}
_NOWRAP = torch.overrides.get_default_nowrap_functions()


def _as_gs(ret, cls, scene):
    """Tensor results (also inside tuples and lists) as ``cls`` with ``scene`` (a reference)."""
    if isinstance(ret, torch.Tensor):
        if not isinstance(ret, cls):
            ret = ret.as_subclass(cls)
        if scene is not None:
            ret.__dict__["scene"] = scene
        return ret
    if isinstance(ret, (tuple, list)):
        return type(ret)(_as_gs(r, cls, scene) for r in ret)  # as torch does (keeps structseqs)
    return ret


class Tensor(torch.Tensor):
    """A torch.Tensor with a ``scene`` attribute (the scene whose gradients it carries, or None)."""

    @staticmethod
    def __new__(cls, data, scene=None):  # noqa: D102 - torch.Tensor construction
        t = data if isinstance(data, torch.Tensor) else torch.as_tensor(data)
        out = t.as_subclass(cls)
        out.__dict__["scene"] = _ref(scene)
        return out

    def __init__(self, data=None, scene=None):  # as_subclass did the work
        pass

    @property
    def scene(self):
        ref = self.__dict__.get("scene")
        return None if ref is None else ref()

    @scene.setter
    def scene(self, value) -> None:
        self.__dict__["scene"] = _ref(value)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        # what torch.Tensor.__torch_function__ does (run the op with subclass dispatch off, then
        # make tensor results gs.Tensors), written out: torch's version costs several times the
        # op itself on the small tensors of a control loop
        if (len(types) != 1 or types[0] is not cls) and not all(issubclass(cls, t) for t in types):
            return NotImplemented  # another tensor subclass decides (as torch's version does)
        scene = None
        for a in args:  # the common case: tensors and numbers, one scene
            if isinstance(a, Tensor):
                sc = a.__dict__.get("scene")
                if sc is not None and sc is not scene:
                    if scene is not None:
                        scene = common_scene(args, kwargs, what=getattr(func, "__name__", "torch op"))
                        break
                    scene = sc
            elif isinstance(a, (list, tuple, dict)):
                scene = common_scene(args, kwargs, what=getattr(func, "__name__", "torch op"))
                break
        else:
            if kwargs:
                scene = common_scene(args, kwargs, what=getattr(func, "__name__", "torch op"))
        with torch._C.DisableTorchFunctionSubclass():
            ret = func(*args, **(kwargs or {}))
        if func in _NOWRAP:
            return ret
        if func in _DETACHING:
            scene = None  # cut from the graph: no longer tied to the scene's gradients
        # a new object, held by ret alone (not an input, not held weakly, e.g. by a saved-tensor
        # hook): it becomes the gs.Tensor itself
        if type(ret) is torch.Tensor and sys.getrefcount(ret) == _FRESH_REFS and not _weakrefs(ret):
            return _own(ret, cls, scene)
        return _as_gs(ret, cls, scene)  # an input (in-place ops) or a container

    def zero_grad(self) -> None:
        """Zero the accumulated gradient in place (as ``optimizer.zero_grad(set_to_none=False)``)."""
        if self.grad is not None:
            self.grad.detach_().zero_()

    def __reduce_ex__(self, proto):
        return torch.Tensor.__reduce_ex__(self.as_subclass(torch.Tensor), proto)

    def __deepcopy__(self, memo):
        """A copy of this leaf tensor in the same scene, as torch copies a plain one: new data,
        the same requires_grad, a copy of ``.grad`` and of other attributes. (torch's own
        version builds the copy with ``new_empty`` under disabled subclass dispatch, which
        gives a plain tensor and makes it refuse every subclass that wraps its results.)"""
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise GenesisRuntimeError(
                "copy.deepcopy: only graph leaves can be deep-copied (as with torch tensors); "
                "this gs.Tensor is the result of an operation: copy t.detach().clone() instead"
            )
        with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
            data = self.clone()
        out = _own(data.requires_grad_(self.requires_grad), type(self), self.__dict__.get("scene"))
        memo[id(self)] = out
        for k, v in self.__dict__.items():
            if k != "scene":  # the copy belongs to the same scene
                out.__dict__[k] = copy.deepcopy(v, memo)
        if self.grad is not None:
            out.grad = copy.deepcopy(self.grad, memo)
        return out

    def __format__(self, format_spec: str) -> str:
        # torch formats a 0-d tensor as its number (f"{loss:.4f}") only when its type is exactly
        # torch.Tensor; a subclass falls through to object.__format__, which rejects any spec
        if self.dim() == 0 and not self.is_meta:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self, *args, **kwargs) -> str:
        body = torch.Tensor.__repr__(self.as_subclass(torch.Tensor), *args, **kwargs)
        return body.replace("tensor(", "gs.Tensor(", 1)


def wrap(t: torch.Tensor, scene) -> Tensor:
    """``t`` as a gs.Tensor of ``scene`` (same data, same autograd graph)."""
    out = t.as_subclass(Tensor)
    out.__dict__["scene"] = _ref(scene)
    return out


def wrap_new(t: torch.Tensor, scene) -> Tensor:
    """:func:`wrap` for a plain tensor the caller has just made and alone holds: ``t`` itself
    becomes the gs.Tensor (see ``_own``), without the alias node ``as_subclass`` adds."""
    return _own(t, Tensor, scene) if type(t) is torch.Tensor or type(t) is Tensor else wrap(t, scene)


def _own(t: torch.Tensor, cls, scene):
    """Make the plain tensor object ``t``, which nothing but the caller references (a fresh op
    result), a ``cls`` of ``scene`` by changing its Python class: cls adds no slots, so the
    layouts agree. ``as_subclass`` would add a view node (AliasBackward0) to the graph, one
    more node for every op on gs.Tensors to create and for the backward to run."""
    t.__class__ = cls
    if scene is not None:
        t.__dict__["scene"] = _ref(scene)
    return t


def _tc_int() -> torch.dtype:
    return torch.int64 if _globals.precision == "64" else torch.int32


def _dtype(dtype, inferred: torch.dtype) -> torch.dtype:
    """Genesis's dtype rule: float -> gs.tc_float, int -> gs.tc_int, bool kept; explicit torch dtypes kept."""
    if dtype is float:
        return _globals.tc_float
    if dtype is int:
        return _tc_int()
    if dtype is bool:
        return torch.bool
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is not None:
        raise InvalidArgument(f"dtype: expected float, int, bool or a torch dtype, got {dtype!r}")
    if inferred.is_floating_point:
        return _globals.tc_float
    if inferred == torch.bool:
        return torch.bool
    if inferred.is_complex:
        raise InvalidArgument("dtype: complex tensors are not supported")
    return _tc_int()


def _check_device(device) -> None:
    if device is not None and torch.device(device).type != "cpu":
        raise InvalidArgument(f"device: kinegrad tensors live on {_globals.device}; got device={device!r}")


def _leaf(t: torch.Tensor, requires_grad: bool, scene=None) -> Tensor:
    out = wrap(t.detach(), scene)
    if requires_grad:
        if not out.dtype.is_floating_point:
            raise InvalidArgument(f"requires_grad: only floating point tensors can require gradients, got {out.dtype}")
        out.requires_grad_(True)
    return out


def tensor(data: Any, dtype=None, requires_grad: bool = False, device=None, scene=None) -> Tensor:
    """A leaf gs.Tensor of ``data`` (like torch.tensor) with the precision of ``gs.init``."""
    _check_device(device)
    if isinstance(data, torch.Tensor):
        base = data.detach().clone()
    else:
        base = torch.as_tensor(np.asarray(data) if not isinstance(data, (int, float, bool)) else data)
    return _leaf(base.to(_dtype(dtype, base.dtype)), requires_grad, scene)


def _size(size, args):
    if size is not None and args:
        raise InvalidArgument("size: give the shape either positionally or as size=, not both")
    shape = size if size is not None else args
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape) if not isinstance(shape, int) else (int(shape),)


def zeros(*args, size=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Zeros of shape ``size`` (gs.tc_float unless ``dtype``)."""
    _check_device(device)
    return _leaf(torch.zeros(_size(size, args), dtype=_dtype(dtype, torch.float64)), requires_grad)


def ones(*args, size=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Ones of shape ``size``."""
    _check_device(device)
    return _leaf(torch.ones(_size(size, args), dtype=_dtype(dtype, torch.float64)), requires_grad)


def rand(*args, size=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform [0, 1) samples of shape ``size`` (seeded by ``gs.init(seed=...)``)."""
    _check_device(device)
    dt = _dtype(dtype, torch.float64)
    if not dt.is_floating_point:
        raise InvalidArgument(f"dtype: rand needs a floating point dtype, got {dt}")
    return _leaf(torch.rand(_size(size, args), dtype=dt), requires_grad)


def randn(*args, size=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal samples of shape ``size``."""
    _check_device(device)
    dt = _dtype(dtype, torch.float64)
    if not dt.is_floating_point:
        raise InvalidArgument(f"dtype: randn needs a floating point dtype, got {dt}")
    return _leaf(torch.randn(_size(size, args), dtype=dt), requires_grad)


def from_numpy(array: np.ndarray, dtype=None, requires_grad: bool = False) -> Tensor:
    """A leaf gs.Tensor holding a copy of ``array``, converted to the precision of ``gs.init``."""
    if not isinstance(array, np.ndarray):
        raise InvalidArgument(f"array: expected a numpy array, got {type(array).__name__}")
    base = torch.from_numpy(np.ascontiguousarray(array))
    return _leaf(base.to(_dtype(dtype, base.dtype)).clone(), requires_grad)


def from_torch(t: torch.Tensor, dtype=None, detach: bool = True, requires_grad: Optional[bool] = None) -> Tensor:
    """A gs.Tensor of the torch tensor ``t``.

    ``detach=True``: a new leaf, cut from t's graph (requires grad if ``t`` did, or as
    ``requires_grad`` says). ``detach=False``: connected to t's graph, so gradients flow back
    into the torch code that produced ``t`` (e.g. a policy network)."""
    if not isinstance(t, torch.Tensor):
        raise InvalidArgument(f"t: expected a torch.Tensor, got {type(t).__name__}")
    dt = _dtype(dtype, t.dtype)
    scene = t.__dict__.get("scene") if isinstance(t, Tensor) else None
    if detach:
        rg = t.requires_grad if requires_grad is None else requires_grad
        return _leaf(t.detach().to(dt).clone(), rg and dt.is_floating_point, scene)
    out = t.to(dt)
    if requires_grad and not out.requires_grad:
        raise InvalidArgument("requires_grad: with detach=False the tensor keeps t's graph; t does not require grad")
    return wrap(out, scene)
