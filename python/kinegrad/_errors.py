"""kinegrad's exception types. Each derives from :class:`GenesisException` (``gs.GenesisException``,
the type Genesis raises, so that ``except gs.GenesisException`` in a Genesis script catches
kinegrad's errors) and from the built-in type kinegrad raised before (``ValueError`` for a bad
argument or file, ``IndexError`` for an index out of range, ``RuntimeError`` for a simulation that cannot go on, ``FileNotFoundError``),
so that code catching those still does."""

from __future__ import annotations


class GenesisException(Exception):
    """Base of every error kinegrad raises (``gs.GenesisException``)."""


class InvalidArgument(GenesisException, ValueError):
    """A bad argument, option, index or model file (names what is wrong and where)."""


class InvalidIndex(GenesisException, IndexError):
    """An index out of range (names the index and the range)."""


class GenesisRuntimeError(GenesisException, RuntimeError):
    """The simulation cannot go on: it diverged, the scene is not built, an internal error."""


class MissingFile(GenesisException, FileNotFoundError):
    """A model or asset file that does not exist (names the places tried)."""
