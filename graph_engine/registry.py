"""The one registry pattern: recommenders, scorers and model kinds are found by name.

::

    RECOMMENDERS = Registry("recommender", RecommendError)

    @RECOMMENDERS.register("cf")
    class CFRecommender(...): ...

    RECOMMENDERS.get("cf")      # the class; unknown names raise the registry's error, listing the known ones

Every registered name must have a contract test: ``tests/unit/test_registries.py``
fails when one has not.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from graph_engine.errors import MedkgError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named implementations of one kind of thing.

    Args:
        what: what the registry holds, for messages (``"recommender"``).
        error: the error class raised for unknown or clashing names.
        loader: called once before the first look-up (imports the modules that register).
    """

    def __init__(self, what: str, error: type[MedkgError] = MedkgError,
                 loader: Callable[[], None] | None = None) -> None:
        self.what = what
        self.error = error
        self._items: dict[str, T] = {}
        self._loader = loader
        self._loaded = loader is None

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (and ``aliases``); re-registering the same object is a no-op."""

        def deco(obj: T) -> T:
            for key in (name, *aliases):
                self.add(key, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        old = self._items.get(name)
        if old is not None and old is not obj:
            raise self.error(f"{self.what} name {name!r} is already registered by {getattr(old, '__name__', old)}")
        self._items[name] = obj

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            assert self._loader is not None
            self._loader()

    def get(self, name: str) -> T:
        """The implementation registered as ``name``; the registry's error (listing the known names) if none."""
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise self.error(f"unknown {self.what} {name!r}; choose one of {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._items.items())
