"""Tensor's op methods: each placeholder declared in chainrule/tensor_methods.py is bound to its op
(the op itself, no wrapper), with the op's signature, and type checkers see them."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule.ops as ops
from chainrule.ops.methods import OPERATORS, bind_methods
from chainrule.tensor import Tensor
from chainrule.tensor_methods import OpMethods, placeholders

ROOT = Path(__file__).resolve().parent.parent
DECLARED = placeholders()


def _op(name: str) -> object:
    return getattr(ops, OPERATORS.get(name, name))


def test_declares_the_methods_and_operators() -> None:
    assert set(OPERATORS) <= set(DECLARED)
    assert {"exp", "sum", "reshape", "softmax", "__matmul__", "__getitem__"} <= set(DECLARED)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_each_placeholder_is_bound_to_its_op_itself(name: str) -> None:
    assert vars(Tensor)[name] is _op(name)  # x.exp is chainrule.exp: no extra call per op


@pytest.mark.parametrize("name", sorted(set(DECLARED) - set(OPERATORS)))
def test_a_method_has_its_ops_signature(name: str) -> None:
    declared = inspect.signature(DECLARED[name])
    op = inspect.signature(_op(name))  # type: ignore[arg-type]
    first, *rest = op.parameters.values()
    assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert declared.replace(parameters=[first, *rest]) == op, (declared, op)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_an_operator_takes_what_python_passes_its_op(name: str) -> None:
    # the operator form (x + y) may leave out the op's defaulted parameters (add's alpha)
    declared = list(inspect.signature(DECLARED[name]).parameters.values())[1:]
    op = inspect.signature(_op(name))  # type: ignore[arg-type]
    first, *rest = op.parameters.values()
    assert rest[: len(declared)] == declared, (declared, op)
    assert all(p.default is not p.empty for p in rest[len(declared) :])
    assert inspect.signature(DECLARED[name]).return_annotation == op.return_annotation


def test_binding_refuses_to_overwrite_a_method_written_out() -> None:
    class Written(OpMethods):
        __slots__ = ()

        def exp(self) -> Tensor:
            raise AssertionError("never called")

    with pytest.raises(TypeError, match="Written.exp is defined over its placeholder"):
        bind_methods(Written, ops)


def test_binding_refuses_an_undeclared_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fresh(OpMethods):
        __slots__ = ()

    monkeypatch.setitem(OPERATORS, "__mod__", "remainder")
    with pytest.raises(TypeError, match="__mod__ is bound but not declared"):
        bind_methods(Fresh, ops)


def test_binding_refuses_a_placeholder_without_an_op() -> None:
    class Fresh(OpMethods):
        __slots__ = ()

    with pytest.raises(TypeError, match="declares exp, but there is no op exp"):
        bind_methods(Fresh, object())  # type: ignore[arg-type]


def test_binding_a_fresh_class_binds_every_placeholder() -> None:
    class Fresh(OpMethods):
        __slots__ = ()

    bind_methods(Fresh, ops)
    assert all(vars(Fresh)[name] is _op(name) for name in DECLARED)


SNIPPET = """\
import chainrule as cr

x = cr.randn(2, 3)
y = cr.randn(3, 2)
total: cr.Tensor = x.exp().sum(dim=1)
product: cr.Tensor = x @ y
parts: tuple[cr.Tensor, ...] = x.split(1, dim=0)
reveal_type(x.exp())
x.exp(1)
x.sum(axis=1)
"""


@pytest.mark.slow
def test_mypy_sees_the_methods(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "snippet.py").write_text(SNIPPET, encoding="utf-8")
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    command += ["--cache-dir", str(tmp_path / "cache"), "--follow-imports=silent", "snippet.py"]
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        'snippet.py:8: note: Revealed type is "chainrule.tensor.Tensor"',
        'snippet.py:9: error: Too many arguments for "exp" of "OpMethods"  [call-arg]',
        'snippet.py:10: error: Unexpected keyword argument "axis" for "sum" of "OpMethods"  '
        "[call-arg]",
    ], result.stdout
    assert lines[-1] == "Found 2 errors in 1 file (checked 1 source file)", result.stdout
