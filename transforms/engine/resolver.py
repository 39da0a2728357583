"""The law's rules evaluated by name: what each reads, what is computed once, in which precision.

A rule of :mod:`transforms.law` is a function whose parameters name what it reads (the Hamilton
way). :class:`Rules` resolves each name, in this order:

1. a parameter of the tax year (a field of :class:`transforms.law.params.TaxParameters`): its value;
   one the rules read per payment date (:data:`transforms.law.params.READ_PER_PAYMENT`) is an
   expression — of ``payment_date`` when the parameter changes within the year, else a literal;
2. a column the frame already holds: that column. The engine computes some facts once, earlier and
   cheaper — the participant's 59½ date once per participant, the pool's totals over sorted runs —
   and a rule that reads them by name takes the column;
3. another rule: its expression, inlined; or, when two rules of the same evaluation read it, or
   when it is an operand of a product (below), computed once into a column of its own first.

A rule that returns a :class:`transforms.law.scopes.Sum` is evaluated by the ``windows`` the
engine gives for its scope (runs of sorted legs, or a leg alone in its event: its own value).

Precision: a rule marked :func:`transforms.law.money.multiplies_amounts` has its operands computed
first; where every integer operand is below
:data:`transforms.kernels.precision.NARROW_LIMIT` in magnitude it runs in Int64, otherwise its
integer operands are cast to Int128 (exact for $10 billion balances). Its result, an amount, is
Int64 either way. The rule never knows: the numbers are the same.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

import polars as pl

from transforms.kernels.precision import WIDE, fits_narrow
from transforms.law import allocation, basis, boxes, codes, exceptions, roth
from transforms.law.params import READ_PER_PAYMENT, TaxParameters
from transforms.law.scopes import Sum

RULE_MODULES: tuple[ModuleType, ...] = (basis, allocation, boxes, roth, exceptions, codes)
"""The modules whose public functions are rules, each named after the column it gives."""

Window = Callable[[pl.Expr], pl.Expr]
PARAMETERS = frozenset(TaxParameters.__dataclass_fields__) - {"changes"}
INTEGERS = frozenset({pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64})


def rules_of(modules: Iterable[ModuleType]) -> dict[str, Callable]:
    """The public functions defined in ``modules``, by name (each name once)."""
    found: dict[str, Callable] = {}
    for module in modules:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            if name in found:
                raise ValueError(f"two rules named {name}: {found[name].__module__} and {module.__name__}")
            found[name] = fn
    return found


@cache
def law() -> Mapping[str, Callable]:
    """Every rule of :data:`RULE_MODULES`, by name."""
    return rules_of(RULE_MODULES)


@cache
def inputs_of(rule: Callable) -> tuple[str, ...]:
    """The names a rule reads: its parameters."""
    return tuple(inspect.signature(rule).parameters)


def multiplies(rule: Callable) -> bool:
    return getattr(rule, "multiplies_amounts", False)


@dataclass(frozen=True)
class Rules:
    """The law's rules for one tax year (``p``), with the engine's ``windows`` for the sums over
    other legs (scope → function of the summed expression)."""

    p: TaxParameters
    windows: Mapping[str, Window] = field(default_factory=dict)
    rules: Mapping[str, Callable] = field(default_factory=law)

    # ---- what a name is -------------------------------------------------------------------------

    def _is_parameter(self, name: str) -> bool:
        return name in PARAMETERS

    def parameter(self, name: str) -> object:
        """The value of the year's parameter ``name`` (an expression for one read per payment date)."""
        value = getattr(self.p, name)
        if name in READ_PER_PAYMENT:
            return self.p.on_payment_date(name) if self.p.changes_of(name) else pl.lit(value)
        return value

    def reads(self, name: str, columns: Iterable[str] = ()) -> frozenset[str]:
        """The columns rule ``name`` reads in the end, through the rules it reads (a name in
        ``columns`` is taken as a column): what must be in a frame for it to be evaluated there."""
        columns = frozenset(columns)
        found: set[str] = set()
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            if self._is_parameter(n):
                if n in READ_PER_PAYMENT and self.p.changes_of(n):
                    found.add("payment_date")
            elif n in columns or n not in self.rules:
                found.add(n)
            else:
                for m in inputs_of(self.rules[n]):
                    visit(m)

        visit(name)
        return frozenset(found)

    # ---- evaluation -----------------------------------------------------------------------------

    def evaluate(self, frame: pl.DataFrame, targets: Iterable[str], keep: Iterable[str] = ()) -> pl.DataFrame:
        """``frame`` with a column for each of ``targets`` (named after its rule), in stages: the
        rules read by two others, and the operands of products, first. The columns computed on the
        way are dropped, except those in ``keep``."""
        targets = list(dict.fromkeys(targets))
        present = set(frame.columns)
        nodes, users = self._graph(targets, present)
        once = set(targets) | {n for n, u in users.items() if len(u) > 1}
        for n in nodes:
            if multiplies(self.rules[n]):
                once |= {m for m in inputs_of(self.rules[n]) if m in nodes}
        depth: dict[str, int] = {}

        def stage_of(n: str) -> int:
            if n not in depth:
                deps = self._computed_inputs(n, nodes, once)
                depth[n] = 1 + max((stage_of(m) for m in deps), default=-1)
            return depth[n]

        stages: dict[int, list[str]] = {}
        for n in sorted(once, key=lambda n: (stage_of(n), list(nodes).index(n))):
            stages.setdefault(stage_of(n), []).append(n)
        for _, names in sorted(stages.items()):
            frame = frame.with_columns(self._expr(n, frame, nodes, once, {}).alias(n) for n in names)
        drop = [n for n in once if n not in targets and n not in set(keep) and n not in present]
        return frame.drop(drop)

    def expr(self, name: str, schema: Mapping[str, pl.DataType]) -> pl.Expr:
        """Rule ``name`` as one expression over a frame of ``schema`` (a lazy frame's too): every rule
        it reads inlined, every product in Int128. The reference the staged :meth:`evaluate` must
        equal; slower on large frames (nothing is computed once, nothing narrowed)."""
        present = set(schema)

        def build(n: str) -> pl.Expr:
            rule = self.rules[n]
            wide = multiplies(rule)
            args = {}
            for m in inputs_of(rule):
                if self._is_parameter(m):
                    args[m] = self.parameter(m)
                elif m in present:
                    col = pl.col(m)
                    args[m] = col.cast(WIDE) if wide and schema[m] in INTEGERS else col
                elif m in self.rules:
                    args[m] = build(m)
                else:
                    raise KeyError(f"{m}: neither a column of the frame, a parameter of the year nor a rule")
            result = rule(**args)
            if isinstance(result, Sum):
                result = self.windows[result.over](result.of)
            return result.cast(pl.Int64) if wide else result

        return build(name).alias(name)

    def columns(self, frame: pl.DataFrame, targets: Iterable[str]) -> pl.DataFrame:
        """The ``targets`` columns alone, evaluated over ``frame`` (:meth:`evaluate`)."""
        targets = list(dict.fromkeys(targets))
        return self.evaluate(frame, targets).select(targets)

    def _graph(self, targets: list[str], present: set[str]) -> tuple[dict[str, None], dict[str, set[str]]]:
        """The rules to evaluate (in the order first met) and, for each, the rules that read it."""
        nodes: dict[str, None] = {}
        users: dict[str, set[str]] = {}

        def visit(n: str) -> None:
            if n in nodes:
                return
            if n not in self.rules:
                raise KeyError(f"{n}: neither a column of the frame, a parameter of the year nor a rule")
            nodes[n] = None
            for m in inputs_of(self.rules[n]):
                if self._is_parameter(m) or m in present:
                    continue
                users.setdefault(m, set()).add(n)
                visit(m)

        for t in targets:
            if t in present:
                raise ValueError(f"{t} is already a column of the frame")
            visit(t)
        return nodes, users

    def _computed_inputs(self, n: str, nodes: Mapping[str, None], once: set[str]) -> set[str]:
        """The rules computed once that ``n`` reads, directly or through inlined rules."""
        found: set[str] = set()
        for m in inputs_of(self.rules[n]):
            if m not in nodes:
                continue
            found |= {m} if m in once else self._computed_inputs(m, nodes, once)
        return found

    def _expr(
        self, n: str, frame: pl.DataFrame, nodes: Mapping[str, None], once: set[str], built: dict
    ) -> pl.Expr:
        """The expression of rule ``n`` over ``frame``: its inputs resolved (module docstring)."""
        if n in built:
            return built[n]
        rule = self.rules[n]
        names = inputs_of(rule)
        wide = False
        if multiplies(rule):
            operands = [m for m in names if m in frame.columns and frame.schema[m] in INTEGERS]
            wide = not fits_narrow(frame, operands)
        args = {}
        for m in names:
            if self._is_parameter(m):
                args[m] = self.parameter(m)
            elif m in frame.columns:
                col = pl.col(m)
                args[m] = col.cast(WIDE) if wide and frame.schema[m] in INTEGERS else col
            elif m in once:  # pragma: no cover - computed in an earlier stage, so a column
                raise AssertionError(f"{m} is evaluated after {n}, which reads it")
            else:
                args[m] = self._expr(m, frame, nodes, once, built)
        result = rule(**args)
        if isinstance(result, Sum):
            if result.over not in self.windows:
                raise KeyError(f"{n} is a sum over the {result.over}, and no window is given for it")
            result = self.windows[result.over](result.of)
        if multiplies(rule):
            result = result.cast(pl.Int64)
        built[n] = result
        return result
