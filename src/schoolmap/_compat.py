"""Old module paths kept working after the package moved into rooms (issue 13)."""

from __future__ import annotations

from types import ModuleType
from typing import Any


def reexport(namespace: dict[str, Any], *modules: ModuleType) -> list[str]:
    """Copy the public names of ``modules`` into an old module's ``namespace``; its ``__all__``.

    Every public name (not only each module's ``__all__``) is copied, so whatever the old path
    gave still imports from it.
    """
    names: list[str] = []
    for module in modules:
        for name, value in vars(module).items():
            if not name.startswith("_") and not isinstance(value, ModuleType):
                namespace[name] = value
                names.append(name)
    return sorted(set(names))
