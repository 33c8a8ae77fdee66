"""Executes a parsed template against data, after Go's text/template/exec.go.

Errors read like Go's: ``template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"``.
"""

from __future__ import annotations

from . import funcs as fn
from . import gofmt
from . import nodes as n
from .parser import TemplateError
from .values import NO_VALUE, Struct, go_type, is_struct, truth

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    FuncTable = dict[str, tuple[Callable[..., Any], int, bool]]

MAX_DEPTH = 10000


class _Missing:
    """No final (piped) argument."""

    __slots__ = ()


_MISSING: Any = _Missing()


class _NilPtr:
    """A nil struct field (a typed nil pointer): prints ``<nil>``, not ``<no value>``."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return "<nil>"


NIL_PTR: Any = _NilPtr()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _arg(v: Any) -> Any:
    """A value as a function receives it (Go's validateType for an interface parameter)."""
    return None if v is NO_VALUE or v is NIL_PTR else v


class State:
    """One execution: output, the variable stack, the node being evaluated (for errors)."""

    def __init__(
        self, text: str, parse_name: str, name: str, funcs: FuncTable, templates: dict[str, n.ListNode],
        missingkey: str, depth: int = 0,
    ) -> None:  # fmt: skip
        self.text = text
        self.parse_name = parse_name
        self.name = name
        self.funcs = funcs
        self.templates = templates
        self.missingkey = missingkey
        self.depth = depth
        self.out: list[str] = []
        self.vars: list[list[Any]] = []
        self.node: n.Node | None = None

    # errors
    def errorf(self, message: str) -> TemplateError:
        if self.node is None:
            return TemplateError(f"template: {self.name}: {message}")
        pos = self.node.pos
        nl = self.text.rfind("\n", 0, pos)
        col = pos if nl < 0 else pos - (nl + 1)
        line = 1 + self.text.count("\n", 0, pos)
        context = str(self.node)
        if len(context) > 20:
            context = context[:20] + "..."
        return TemplateError(
            f"template: {self.parse_name}:{line}:{col}: executing {gofmt.quote(self.name)} at <{context}>: {message}"
        )

    # variables
    def var_value(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.errorf(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.errorf(f"undefined variable: {name}")

    # walking the tree
    def walk(self, dot: Any, node: n.Node) -> None:
        self.node = node
        if isinstance(node, n.TextNode):
            self.out.append(node.text)
        elif isinstance(node, n.ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.node = node
                self.out.append(_printable(val))
        elif isinstance(node, n.ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, n.BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                mark = len(self.vars)
                val = self.eval_pipeline(dot, node.pipe)
                if truth(val):
                    self.walk(val if node.keyword == "with" else dot, node.list)
                elif node.else_list is not None:
                    self.walk(dot, node.else_list)
                del self.vars[mark:]
        elif isinstance(node, n.BreakNode):
            raise _Break
        elif isinstance(node, n.ContinueNode):
            raise _Continue
        elif isinstance(node, n.TemplateNode):
            self.walk_template(dot, node)
        else:  # pragma: no cover - the parser makes no other nodes
            raise self.errorf(f"unknown node: {node}")

    def walk_template(self, dot: Any, node: n.TemplateNode) -> None:
        body = self.templates.get(node.name)
        if body is None:
            raise self.errorf(f"template {gofmt.quote(node.name)} not defined")
        if self.depth >= MAX_DEPTH:
            raise self.errorf(f"exceeded maximum template depth ({MAX_DEPTH})")
        value = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else None
        sub = State(self.text, self.parse_name, node.name, self.funcs, self.templates, self.missingkey,
                    self.depth + 1)  # fmt: skip
        sub.out = self.out
        sub.vars = [["$", value]]
        sub.walk(value, body)

    def walk_range(self, dot: Any, node: n.BranchNode) -> None:
        mark = len(self.vars)
        val = self.eval_pipeline(dot, node.pipe)  # errors below point at the pipeline's last node
        decl = node.pipe.decl
        inner = len(self.vars)
        items: list[tuple[Any, Any]]
        if val is NO_VALUE or val is None or val is NIL_PTR:
            items = []
        elif isinstance(val, list | tuple):
            items = list(enumerate(val))
        elif isinstance(val, dict) and not isinstance(val, Struct):
            items = sorted(val.items(), key=fn_sort_key)
        elif isinstance(val, int) and not isinstance(val, bool):
            if len(decl) > 1:
                raise self.errorf(f"can't use {val} to iterate over more than one variable")
            items = [(i, i) for i in range(val)]
        else:
            raise self.errorf(f"range can't iterate over {gofmt.format_value(val)}")
        try:
            for index, elem in items:
                if decl:
                    if node.pipe.is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.vars[inner - 1][1] = elem
                if len(decl) > 1:
                    if node.pipe.is_assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.vars[inner - 2][1] = index
                try:
                    self.walk(elem, node.list)
                except _Continue:
                    pass
                finally:
                    del self.vars[inner:]
            if not items and node.else_list is not None:
                self.walk(dot, node.else_list)
        except _Break:
            pass
        finally:
            del self.vars[mark:]

    # evaluation
    def eval_pipeline(self, dot: Any, pipe: n.PipeNode) -> Any:
        self.node = pipe
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                value = NO_VALUE  # an interface holding nil unwraps to an invalid value
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append([var.ident[0], value])
        return value

    def not_a_function(self, args: list[n.Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: n.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, n.FieldNode):
            self.node = first
            return self.eval_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, n.ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, n.IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, n.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, n.VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, n.BoolNode):
            return first.value
        if isinstance(first, n.DotNode):
            return dot
        if isinstance(first, n.NilNode):
            raise self.errorf("nil is not a command")
        if isinstance(first, n.NumberNode):
            return first.value
        if isinstance(first, n.StringNode):
            return first.text
        raise self.errorf(f"can't evaluate command {first}")  # pragma: no cover

    def eval_chain_node(self, dot: Any, chain: n.ChainNode, args: list[n.Node], final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, n.NilNode):
            raise self.errorf(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, chain.node, convert=False)
        self.node = chain
        return self.eval_chain(dot, receiver, chain, chain.field, args, final)

    def eval_variable(self, dot: Any, var: n.VariableNode, args: list[n.Node], final: Any) -> Any:
        self.node = var
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_chain(dot, value, var, var.ident[1:], args, final)

    def eval_chain(self, dot: Any, receiver: Any, node: n.Node, ident: list[str], args: list[n.Node],
                   final: Any) -> Any:  # fmt: skip
        iface = False
        for name in ident[:-1]:
            value = self.eval_field(dot, name, node, [], _MISSING, receiver, iface)
            iface = isinstance(receiver, dict | list | tuple) and not isinstance(receiver, Struct)
            receiver = value
        return self.eval_field(dot, ident[-1], node, args, final, receiver, iface)

    def eval_field(self, dot: Any, name: str, node: n.Node, args: list[n.Node], final: Any,
                   receiver: Any, iface: bool = False) -> Any:  # fmt: skip
        """One step of a field chain; ``iface``: the receiver came out of a map (Go: interface {})."""
        if receiver is NO_VALUE:
            if self.missingkey == "error":
                raise self.errorf(f"nil data; no entry for key {gofmt.quote(name)}")
            return NO_VALUE
        if receiver is None or receiver is NIL_PTR:
            raise self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        has_args = len(args) > 1 or final is not _MISSING
        if isinstance(receiver, Struct):
            if name in receiver:
                value = receiver[name]
                if callable(value):
                    return self.eval_call(dot, value, False, node, name, args, final)
                if has_args:
                    raise self.errorf(f"{name} is not a method but has arguments")
                return NIL_PTR if value is None else value
        elif isinstance(receiver, dict):
            if has_args:
                raise self.errorf(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missingkey == "error":
                raise self.errorf(f"map has no entry for key {gofmt.quote(name)}")
            if self.missingkey == "zero":
                return None
            return NO_VALUE
        elif is_struct(receiver) and not name.startswith("_"):
            value = getattr(receiver, name, _MISSING)
            if value is not _MISSING:
                if callable(value):
                    return self.eval_call(dot, value, False, node, name, args, final)
                if has_args:
                    raise self.errorf(f"{name} is not a method but has arguments")
                return NIL_PTR if value is None else value
        typ = "interface {}" if iface else go_type(receiver)
        raise self.errorf(f"can't evaluate field {name} in type {typ}")

    def eval_function(self, dot: Any, ident: n.IdentifierNode, cmd: n.Node, args: list[n.Node],
                      final: Any) -> Any:  # fmt: skip
        self.node = ident
        entry = self.funcs.get(ident.name)
        if entry is None:
            raise self.errorf(f"{gofmt.quote(ident.name)} is not a defined function")
        return self.eval_call(dot, entry, ident.name in fn.BUILTINS, cmd, ident.name, args, final)

    def eval_call(self, dot: Any, function: Any, builtin: bool, node: n.Node, name: str,
                  args: list[n.Node], final: Any) -> Any:  # fmt: skip
        if isinstance(function, tuple):
            func, fixed, variadic = function
        else:
            func = function
            fixed, variadic = fn.arity(func)
        arg_nodes = args[1:] if args else []
        count = len(arg_nodes) + (0 if final is _MISSING else 1)
        if (variadic and count < fixed) or (not variadic and count != fixed):
            want = f"at least {fixed}" if variadic else str(fixed)
            raise self.errorf(f"wrong number of args for {name}: want {want} got {count}")
        if builtin and name in ("and", "or"):
            value: Any = None
            for a in arg_nodes:
                value = self.eval_arg(dot, a, convert=False)
                if truth(value) == (name == "or"):
                    return value
            if final is not _MISSING:
                value = final
            return value
        argv = [self.eval_arg(dot, a) for a in arg_nodes]
        if final is not _MISSING:
            argv.append(_arg(final))
        try:
            return func(*argv)
        except fn.ArgTypeError as e:
            if e.index < len(arg_nodes):
                self.node = arg_nodes[e.index]  # Go checks each argument's type as it evaluates it
            raise self.errorf(str(e)) from None
        except TemplateError:
            raise
        except (fn.FuncError, ValueError, TypeError, KeyError, IndexError, ArithmeticError) as e:
            self.node = node
            raise self.errorf(f"error calling {name}: {e}") from None

    def eval_arg(self, dot: Any, node: n.Node, convert: bool = True) -> Any:
        self.node = node
        value: Any
        if isinstance(node, n.DotNode):
            value = dot
        elif isinstance(node, n.NilNode):
            value = None
        elif isinstance(node, n.FieldNode):
            value = self.eval_chain(dot, dot, node, node.ident, [node], _MISSING)
        elif isinstance(node, n.VariableNode):
            value = self.eval_variable(dot, node, [node], _MISSING)
        elif isinstance(node, n.PipeNode):
            value = self.eval_pipeline(dot, node)
        elif isinstance(node, n.IdentifierNode):
            value = self.eval_function(dot, node, node, [node], _MISSING)
        elif isinstance(node, n.ChainNode):
            value = self.eval_chain_node(dot, node, [node], _MISSING)
        elif isinstance(node, n.BoolNode):
            value = node.value
        elif isinstance(node, n.NumberNode):
            value = node.value
        elif isinstance(node, n.StringNode):
            value = node.text
        else:  # pragma: no cover
            raise self.errorf(f"can't handle {node} for arg")
        return _arg(value) if convert else value


def fn_sort_key(item: tuple[Any, Any]) -> tuple[int, Any]:
    """Go's fmtsort order for map keys: numbers numerically, strings bytewise."""
    k = item[0]
    if isinstance(k, int | float) and not isinstance(k, bool):
        return (0, k)
    return (1, str(k).encode())


def _printable(v: Any) -> str:
    if v is NO_VALUE:
        return "<no value>"
    if v is NIL_PTR:
        return "<nil>"
    return gofmt.format_value(v)
