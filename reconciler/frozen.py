"""Frozen dataclasses made by the hundred thousand, built fast.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__`` (about
four times slower than a plain assignment). :func:`fast_init` gives a frozen, slotted dataclass an
``__init__`` with the same signature and defaults that sets each field through its slot's own
setter: the same object, still frozen afterwards. A cold plan makes one change per resource and
about one and a half planned actions per resource (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def fast_init(cls: type[T]) -> type[T]:
    """Class decorator, above ``@dataclass(frozen=True, slots=True, init=False)``."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]  # set by @dataclass; typeshed does not declare it
    if not (params.frozen and "__slots__" in cls.__dict__) or params.init:
        raise TypeError(f"{cls.__name__}: fast_init wants @dataclass(frozen=True, slots=True, init=False)")
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if any(f.default_factory is not dataclasses.MISSING for f in fields):
        raise TypeError(f"{cls.__name__}: fast_init takes plain defaults only")
    scope = {f"_set_{f.name}": cls.__dict__[f.name].__set__ for f in fields}
    scope.update({f"_default_{f.name}": f.default for f in fields if f.default is not dataclasses.MISSING})
    args = ", ".join(f.name if f.default is dataclasses.MISSING else f"{f.name}=_default_{f.name}" for f in fields)
    body = "\n".join(f"    _set_{f.name}(self, {f.name})" for f in fields) or "    pass"
    exec(f"def __init__(self, {args}):\n{body}\n", scope)  # noqa: S102 (our own field names only)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]  # replacing the generated __init__ is the point
    return cls
