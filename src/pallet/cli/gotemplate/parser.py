"""The parser of Go's text/template, after Go's text/template/parse/parse.go.

Errors read like Go's: ``template: NAME:LINE: unexpected "}" in operand``.
"""

from __future__ import annotations

from . import lexer as lx
from . import nodes as n

TYPE_CHECKING = False  # typing costs ~4 ms to import; mypy still reads the block

if TYPE_CHECKING:
    from collections.abc import Container, Iterator


class TemplateError(Exception):
    """A template that does not parse, or fails while executing; the message reads like Go's."""


class _End(n.Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class _Else(n.Node):
    __slots__ = ("line",)

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line

    def __str__(self) -> str:
        return "{{else}}"


_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
}  # fmt: skip


def go_unquote(text: str) -> str:
    """Go's strconv.Unquote for "..." and `...` literals; ValueError on bad syntax."""
    if text.startswith("`"):
        return text[1:-1].replace("\r", "")
    quote = text[0]
    body = text[1:-1]
    if len(text) < 2 or text[-1] != quote:
        raise ValueError("invalid syntax")
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == quote:
            raise ValueError("invalid syntax")
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("invalid syntax")
        e = body[i + 1]
        i += 2
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e == quote:
            out.append(e)
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i : i + size]
            if len(digits) != size or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("invalid syntax")
            value = int(digits, 16)
            i += size
            if e == "x":
                out.append(chr(value))  # a byte; good enough for ASCII and Latin-1 text
            else:
                if value > 0x10FFFF or 0xD800 <= value < 0xE000:
                    raise ValueError("invalid syntax")
                out.append(chr(value))
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def parse_number(pos: int, text: str) -> n.NumberNode:
    """A number or character constant as Go's parser reads it."""
    if text.startswith("'"):
        try:
            value = go_unquote(text)
        except ValueError:
            raise ValueError(f"malformed character constant: {text}") from None
        if len(value) != 1:
            raise ValueError(f"malformed character constant: {text}")
        return n.NumberNode(pos, text, ord(value), False)
    body = text.lstrip("+-")
    is_hex = body[:2] in ("0x", "0X")
    looks_float = any(c in body for c in ".eEpP") if not is_hex else any(c in body for c in ".pP")
    if not looks_float:
        sign = text[: len(text) - len(body)]
        try:
            if len(body) > 1 and body[0] == "0" and body[1:].replace("_", "").isdigit():
                ivalue = int(sign + body[1:], 8)  # Go's legacy octal: 0755
            else:
                ivalue = int(text, 0)
            return n.NumberNode(pos, text, ivalue, False)
        except ValueError:
            pass
    try:
        fvalue = float.fromhex(text) if is_hex else float(text)
    except ValueError:
        raise ValueError(f"bad number syntax: {lx.go_quote_simple(text)}") from None
    return n.NumberNode(pos, text, fvalue, True)


class Parser:
    """Parses one template text into a tree (``root``) and the ``{{define}}``d templates."""

    def __init__(self, text: str, name: str, funcs: Container[str]) -> None:
        self.name = name
        self.funcs = funcs
        self.tokens: Iterator[lx.Token] = lx.Lexer(text).tokens()
        self.pending: list[lx.Token] = []
        self.last: lx.Token | None = None
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.defined: dict[str, n.ListNode] = {}

    # token stream
    def _next(self) -> lx.Token:
        tok = self.pending.pop() if self.pending else next(self.tokens)
        self.last = tok
        return tok

    def _backup(self, tok: lx.Token) -> None:
        self.pending.append(tok)

    def _peek(self) -> lx.Token:
        tok = self._next()
        self._backup(tok)
        return tok

    def _next_non_space(self) -> lx.Token:
        tok = self._next()
        while tok.kind == lx.SPACE:
            tok = self._next()
        return tok

    def _peek_non_space(self) -> lx.Token:
        tok = self._next_non_space()
        self._backup(tok)
        return tok

    # errors
    def error(self, message: str) -> TemplateError:
        line = self.last.line if self.last is not None else 1
        return TemplateError(f"template: {self.name}:{line}: {message}")

    def unexpected(self, tok: lx.Token, context: str) -> TemplateError:
        if tok.kind == lx.ERROR:
            extra = ""
            if self.action_line and self.action_line != tok.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.error(tok.val + extra)
        return self.error(f"unexpected {tok.describe()} in {context}")

    def _expect(self, kind: str, context: str) -> lx.Token:
        tok = self._next_non_space()
        if tok.kind != kind:
            raise self.unexpected(tok, context)
        return tok

    # grammar
    def parse(self) -> n.ListNode:
        root = n.ListNode(self._peek().pos)
        while self._peek().kind != lx.EOF:
            if self._peek().kind == lx.LEFT_DELIM:
                delim = self._next()
                after = self._next_non_space()
                if after.kind == lx.KEYWORD and after.val == "define":
                    self._definition()
                    continue
                self._backup(after)
                self._backup(delim)
            node = self._text_or_action()
            if isinstance(node, _End | _Else):
                raise self.error(f"unexpected {node}")
            if node is not None:
                root.nodes.append(node)
        return root

    def _definition(self) -> None:
        context = "define clause"
        tok = self._next_non_space()
        if tok.kind not in (lx.STRING, lx.RAW_STRING):
            raise self.unexpected(tok, context)
        name = self._unquote(tok)
        self._expect(lx.RIGHT_DELIM, context)
        saved, self.vars = self.vars, ["$"]
        body, end = self._item_list()
        self.vars = saved
        if not isinstance(end, _End):
            raise self.error(f"unexpected {end} in {context}")
        self.defined[name] = body

    def _item_list(self) -> tuple[n.ListNode, n.Node]:
        lst = n.ListNode(self._peek_non_space().pos)
        while self._peek_non_space().kind != lx.EOF:
            node = self._text_or_action()
            if isinstance(node, _End | _Else):
                return lst, node
            if node is not None:
                lst.nodes.append(node)
        raise self.error("unexpected EOF")

    def _text_or_action(self) -> n.Node | None:
        tok = self._next_non_space()
        if tok.kind == lx.TEXT:
            return n.TextNode(tok.pos, tok.val)
        if tok.kind == lx.LEFT_DELIM:
            self.action_line = tok.line
            try:
                return self._action()
            finally:
                self.action_line = 0
        if tok.kind == lx.COMMENT:
            return None
        raise self.unexpected(tok, "input")

    def _action(self) -> n.Node:
        tok = self._next_non_space()
        if tok.kind == lx.KEYWORD:
            word = tok.val
            if word in ("if", "range", "with"):
                return self._control(word)
            if word == "else":
                peek = self._peek_non_space()
                if peek.kind == lx.KEYWORD and peek.val in ("if", "with"):
                    return _Else(peek.pos, peek.line)
                end = self._expect(lx.RIGHT_DELIM, "else")
                return _Else(end.pos, end.line)
            if word == "end":
                return _End(self._expect(lx.RIGHT_DELIM, "end").pos)
            if word in ("break", "continue"):
                nxt = self._next_non_space()
                if nxt.kind != lx.RIGHT_DELIM:
                    raise self.unexpected(nxt, "{{" + word + "}}")
                if not self.range_depth:
                    raise self.error("{{" + word + "}} outside {{range}}")
                return n.BreakNode(tok.pos) if word == "break" else n.ContinueNode(tok.pos)
            if word in ("template", "block"):
                return self._template(word, tok)
            raise self.error(f"unexpected <{word}> in command")  # "define" not at top level
        self._backup(tok)
        tok = self._peek()
        return n.ActionNode(tok.pos, tok.line, self._pipeline("command", lx.RIGHT_DELIM))

    def _unquote(self, tok: lx.Token) -> str:
        try:
            return go_unquote(tok.val)
        except ValueError as e:
            raise self.error(str(e)) from None

    def _template(self, word: str, tok: lx.Token) -> n.Node:
        context = word + " clause"
        name_tok = self._next_non_space()
        if name_tok.kind not in (lx.STRING, lx.RAW_STRING):
            raise self.unexpected(name_tok, context)
        name = self._unquote(name_tok)
        pipe: n.PipeNode | None = None
        if word == "block" or self._next_non_space().kind != lx.RIGHT_DELIM:
            if word == "template":
                self._backup(self.last)  # type: ignore[arg-type]
            pipe = self._pipeline(context, lx.RIGHT_DELIM)
        if word == "block":
            saved, self.vars = self.vars, ["$"]
            body, end = self._item_list()
            self.vars = saved
            if not isinstance(end, _End):
                raise self.error(f"unexpected {end} in {context}")
            self.defined[name] = body
        return n.TemplateNode(name_tok.pos, name_tok.line, name, pipe)

    def _control(self, context: str) -> n.Node:
        depth = len(self.vars)
        try:
            pipe = self._pipeline(context, lx.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self._item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: n.ListNode | None = None
            if isinstance(nxt, _Else):
                peek = self._peek()
                if context in ("if", "with") and peek.kind == lx.KEYWORD and peek.val == context:
                    self._next()
                    else_list = n.ListNode(nxt.pos)
                    else_list.nodes.append(self._control(context))
                else:
                    else_list, nxt = self._item_list()
                    if not isinstance(nxt, _End):
                        raise self.error(f"expected end; found {nxt}")
            return n.BranchNode(context, pipe.pos, pipe.line, pipe, lst, else_list)
        finally:
            del self.vars[depth:]

    def _pipeline(self, context: str, end: str) -> n.PipeNode:
        tok = self._peek_non_space()
        pipe = n.PipeNode(tok.pos, tok.line, [])
        while True:  # declarations
            v = self._peek_non_space()
            if v.kind != lx.VARIABLE:
                break
            self._next()
            after_var = self._peek()
            nxt = self._peek_non_space()
            if nxt.kind in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = nxt.kind == lx.ASSIGN
                self._next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, v.val.split(".")))
                if not pipe.is_assign:
                    self.vars.append(v.val)
                elif v.val not in self.vars:
                    raise self.error(f"undefined variable {lx.go_quote_simple(v.val)}")
                break
            if nxt.kind == lx.CHAR and nxt.val == ",":
                self._next_non_space()
                pipe.decl.append(n.VariableNode(v.pos, v.val.split(".")))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self._peek_non_space().kind in (lx.VARIABLE, lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            if after_var.kind == lx.SPACE:
                self._backup(after_var)  # "$x foo": $x is an argument; keep the space after it
            self._backup(v)
            break
        while True:
            tok = self._next_non_space()
            if tok.kind == end:
                self._check_pipeline(pipe, context)
                return pipe
            if tok.kind in (
                lx.BOOL, lx.CHAR_CONSTANT, lx.DOT, lx.FIELD, lx.IDENTIFIER, lx.NUMBER, lx.NIL,
                lx.RAW_STRING, lx.STRING, lx.VARIABLE, lx.LEFT_PAREN,
            ):  # fmt: skip
                self._backup(tok)
                pipe.cmds.append(self._command())
            else:
                raise self.unexpected(tok, context)

    def _check_pipeline(self, pipe: n.PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], n.BoolNode | n.DotNode | n.NilNode | n.NumberNode | n.StringNode):
                raise self.error(f"non executable command in pipeline stage {i + 2}")

    def _command(self) -> n.CommandNode:
        cmd = n.CommandNode(self._peek_non_space().pos, [])
        while True:
            self._peek_non_space()
            operand = self._operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self._next()
            if tok.kind == lx.SPACE:
                continue
            if tok.kind in (lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                self._backup(tok)
            elif tok.kind != lx.PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def _operand(self) -> n.Node | None:
        node = self._term()
        if node is None:
            return None
        if self._peek().kind == lx.FIELD:
            pos = self._peek().pos
            fields: list[str] = []
            while self._peek().kind == lx.FIELD:
                fields.append(self._next().val[1:])
            if isinstance(node, n.FieldNode):
                return n.FieldNode(node.pos, node.ident + fields)
            if isinstance(node, n.VariableNode):
                return n.VariableNode(node.pos, node.ident + fields)
            if isinstance(node, n.BoolNode | n.StringNode | n.NumberNode | n.NilNode | n.DotNode):
                raise self.error(f"unexpected . after term {lx.go_quote_simple(str(node))}")
            return n.ChainNode(pos, node, fields)
        return node

    def _term(self) -> n.Node | None:
        tok = self._next_non_space()
        kind = tok.kind
        if kind == lx.IDENTIFIER:
            if tok.val not in self.funcs:
                raise self.error(f"function {lx.go_quote_simple(tok.val)} not defined")
            return n.IdentifierNode(tok.pos, tok.val)
        if kind == lx.DOT:
            return n.DotNode(tok.pos)
        if kind == lx.NIL:
            return n.NilNode(tok.pos)
        if kind == lx.VARIABLE:
            ident = tok.val.split(".")
            if ident[0] not in self.vars:
                raise self.error(f"undefined variable {lx.go_quote_simple(ident[0])}")
            return n.VariableNode(tok.pos, ident)
        if kind == lx.FIELD:
            return n.FieldNode(tok.pos, tok.val[1:].split("."))
        if kind == lx.BOOL:
            return n.BoolNode(tok.pos, tok.val == "true")
        if kind in (lx.CHAR_CONSTANT, lx.NUMBER):
            try:
                return parse_number(tok.pos, tok.val)
            except ValueError as e:
                raise self.error(str(e)) from None
        if kind == lx.LEFT_PAREN:
            return self._pipeline("parenthesized pipeline", lx.RIGHT_PAREN)
        if kind in (lx.STRING, lx.RAW_STRING):
            return n.StringNode(tok.pos, tok.val, self._unquote(tok))
        self._backup(tok)
        return None
