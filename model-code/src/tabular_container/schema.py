"""The model's input schema: feature columns in order, their kinds and the categories seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)


@dataclass(frozen=True)
class Column:
    """One feature column; categories are filled in once the model has seen the data."""

    name: str
    kind: str
    categories: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The column as metadata.json stores it."""
        if self.kind == CATEGORICAL:
            return {"name": self.name, "type": self.kind, "categories": list(self.categories)}
        return {"name": self.name, "type": self.kind}


@dataclass(frozen=True)
class Schema:
    """Feature columns in the order the model takes them, and the target it predicts."""

    columns: tuple[Column, ...]
    target: str

    @classmethod
    def from_json(cls, features: object, target: object) -> Schema:
        """Rebuild the schema from metadata.json, refusing anything that is not one we wrote."""
        if not isinstance(features, list) or not features or not isinstance(target, str):
            raise ValueError("metadata.json needs a non-empty 'features' list and a 'target'")
        columns = []
        for entry in features:
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("name"), str)
                or entry.get("type") not in KINDS
            ):
                raise ValueError(f"metadata.json has a malformed feature entry: {entry!r}")
            categories = tuple(str(category) for category in entry.get("categories", ()))
            columns.append(Column(entry["name"], entry["type"], categories))
        return cls(tuple(columns), target)

    def to_json(self) -> list[dict[str, Any]]:
        """The feature columns as metadata.json stores them."""
        return [column.to_json() for column in self.columns]

    def with_categories(self, categories: Sequence[Sequence[str]]) -> Schema:
        """The same schema with the categories learnt for each categorical column, in order."""
        learnt = iter(categories)
        columns = tuple(
            replace(column, categories=tuple(next(learnt)))
            if column.kind == CATEGORICAL
            else column
            for column in self.columns
        )
        return replace(self, columns=columns)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Feature names in model order."""
        return tuple(column.name for column in self.columns)

    @cached_property
    def positions(self) -> dict[str, int]:
        """Model position of each feature name."""
        return {name: position for position, name in enumerate(self.names)}

    @cached_property
    def numeric(self) -> tuple[bool, ...]:
        """Whether each feature, in model order, takes numbers."""
        return tuple(column.kind == NUMERIC for column in self.columns)

    @cached_property
    def categorical_positions(self) -> tuple[int, ...]:
        """Model positions of the categorical features."""
        return tuple(i for i, numeric in enumerate(self.numeric) if not numeric)
