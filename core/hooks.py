"""Hooks: how an app tells the apps above it that something happened without importing
them. The app below names the hook and calls it; each app above registers its function
from its AppConfig.ready(), so imports still run one way."""

from collections.abc import Callable


class Hook:
    """Functions called, in the order they registered, with the hook's keyword arguments.
    A function that raises stops the call and the caller's transaction decides the rest."""

    def __init__(self, name: str):
        self.name = name
        self._functions: list[Callable] = []

    def register(self, function: Callable) -> Callable:
        if function not in self._functions:
            self._functions.append(function)
        return function

    def __call__(self, **kwargs) -> None:
        for function in self._functions:
            function(**kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._functions)} registered>"
