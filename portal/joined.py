"""One row and the rows it joins to, by a query written once per process.

Django compiles a queryset's SQL every time it runs it; for a ``select_related`` over four joins
that costs more CPU than PostgreSQL spends answering (a deploy and every look at its rollout load
their revision, release, service map, cluster and workspace this way). :class:`JoinedQuery`
writes the SELECT once, from the models' own fields, and builds the instances the way the ORM
does: every column through the converters the ORM would apply (JSON decoded, encrypted fields
decrypted), then ``Model.from_db``. Wiring the instances to each other is the caller's, who
knows the relations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Join:
    """``model`` under ``alias``, joined ``ON`` the SQL condition ``on`` (empty for the first)."""

    model: type[Model]
    alias: str
    on: str = ""


class JoinedQuery:
    """``SELECT`` every concrete field of each join's model ``FROM`` the first ``JOIN`` the rest
    ``WHERE`` ``where`` (``%s`` placeholders) ``LIMIT 1``; :meth:`first` returns the instances in
    join order, or None."""

    def __init__(self, joins: Sequence[Join], where: str, *, using: str = "default") -> None:
        self.joins = tuple(joins)
        self.where = where
        self.using = using
        self._sql: str | None = None
        self._parts: list[tuple[type[Model], list[str], list[tuple[int, list[tuple[Converter, Any]]]]]] = []

    def _prepare(self) -> str:
        connection = connections[self.using]
        quote = connection.ops.quote_name
        columns: list[str] = []
        parts = []
        for join in self.joins:
            fields = list(join.model._meta.concrete_fields)
            converters = []
            for index, field in enumerate(fields):
                col = field.get_col(join.alias)
                found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if found:
                    converters.append((index, [(fn, col) for fn in found]))
            columns.extend(f"{join.alias}.{quote(field.column)}" for field in fields)
            parts.append((join.model, [field.attname for field in fields], converters))
        first, *rest = self.joins
        # Identifiers from the models' own metadata (quoted) and conditions written in code; the
        # values are always parameters.
        sql = f"SELECT {', '.join(columns)} FROM {quote(first.model._meta.db_table)} {first.alias}"  # noqa: S608
        for join in rest:
            sql += f" JOIN {quote(join.model._meta.db_table)} {join.alias} ON {join.on}"
        self._parts = parts
        self._sql = f"{sql} WHERE {self.where} LIMIT 1"
        return self._sql

    @property
    def sql(self) -> str:
        return self._sql or self._prepare()

    def first(self, params: Sequence[Any]) -> list[Model] | None:
        sql = self.sql
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            row = cursor.fetchone()
        if row is None:
            return None
        out: list[Model] = []
        start = 0
        for model, attnames, converters in self._parts:
            values = list(row[start:start + len(attnames)])
            start += len(attnames)
            for index, chain in converters:
                value = values[index]
                for fn, col in chain:
                    value = fn(value, col, connection)
                values[index] = value
            out.append(model.from_db(self.using, attnames, values))
        return out
