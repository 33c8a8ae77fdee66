"""The lexer of Go's text/template: turns template text into a list of tokens.

It follows Go's text/template/parse/lex.go in behaviour: delimiters ``{{``/``}}``, trim markers
``{{- `` and `` -}}`` (a space is required next to the dash), comments ``{{/* ... */}}``,
strings, raw strings, character constants, numbers, fields, variables, keywords.  No ``re``: this
module is imported by every ``--format`` call.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~4 ms to import; mypy still reads the block

if TYPE_CHECKING:
    from collections.abc import Iterator

# token kinds
ERROR = "error"
BOOL = "bool"
CHAR = "char"  # printable ASCII character in an action: ',' only matters (range $i, $e)
CHAR_CONSTANT = "char constant"
COMMENT = "comment"
ASSIGN = "="
DECLARE = ":="
EOF = "EOF"
FIELD = "field"
IDENTIFIER = "identifier"
LEFT_DELIM = "left delim"
LEFT_PAREN = "("
NUMBER = "number"
PIPE = "|"
RAW_STRING = "raw string"
RIGHT_DELIM = "right delim"
RIGHT_PAREN = ")"
SPACE = "space"
STRING = "string"
TEXT = "text"
VARIABLE = "variable"
KEYWORD = "keyword"
DOT = "."
NIL = "nil"

KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}
)

LEFT = "{{"
RIGHT = "}}"
_SPACES = " \t\r\n"
_COMMENT_OPEN = "/*"
_COMMENT_CLOSE = "*/"


class Token:
    """One lexed item: its kind, its text, its byte offset and its line (1-based)."""

    __slots__ = ("kind", "line", "pos", "val")

    def __init__(self, kind: str, val: str, pos: int, line: int) -> None:
        self.kind = kind
        self.val = val
        self.pos = pos
        self.line = line

    def describe(self) -> str:
        """The token as Go's parser names it in errors (``"}"``, ``<.Foo>``, ``EOF``)."""
        if self.kind == EOF:
            return "EOF"
        if self.kind == ERROR:
            return self.val
        if self.kind == KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return f"{self.val[:10]!r}..."
        return go_quote_simple(self.val)

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.val!r})"


def go_quote_simple(s: str) -> str:
    """Double-quote ``s`` like Go's %q for plain text."""
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


class Lexer:
    """Produces tokens on demand; ``tokens()`` yields them until EOF or an error token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.out: list[Token] = []
        self.inside = False

    # helpers
    def _emit(self, kind: str) -> None:
        self.out.append(Token(kind, self.text[self.start : self.pos], self.start, self.start_line))
        self._ignore()

    def _ignore(self) -> None:
        self.line += self.text.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def _error(self, message: str) -> None:
        self.out.append(Token(ERROR, message, self.start, self.start_line))

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def tokens(self) -> Iterator[Token]:
        text = self.text
        while True:
            if not self.inside:
                i = text.find(LEFT, self.pos)
                if i < 0:
                    self.pos = len(text)
                    if self.pos > self.start:
                        self._emit(TEXT)
                    self.out.append(Token(EOF, "", self.pos, self.line))
                    yield from self._drain()
                    return
                trim = text.startswith("-", i + 2) and i + 3 < len(text) and text[i + 3] in _SPACES
                self.pos = i
                if trim:
                    j = i
                    while j > self.start and text[j - 1] in _SPACES:
                        j -= 1
                    self.pos = j
                if self.pos > self.start:
                    self._emit(TEXT)
                self.pos = i
                self._ignore()
                if not self._left_delim(trim):
                    yield from self._drain()
                    return
                yield from self._drain()
                continue
            ok = self._inside_action()
            yield from self._drain()
            if not ok:
                return

    def _drain(self) -> Iterator[Token]:
        out, self.out = self.out, []
        yield from out

    def _left_delim(self, trim: bool) -> bool:
        text = self.text
        after = self.pos + len(LEFT) + (2 if trim else 0)
        if text.startswith(_COMMENT_OPEN, after):
            self.pos = after
            self._ignore()
            end = text.find(_COMMENT_CLOSE, self.pos)
            if end < 0:
                self._error("unclosed comment")
                return False
            self.pos = end + len(_COMMENT_CLOSE)
            right_trim = text.startswith(" -" + RIGHT, self.pos) or (text.startswith("\t-" + RIGHT, self.pos))
            if not right_trim and not text.startswith(RIGHT, self.pos):
                self._error("comment ends before closing delimiter")
                return False
            self._emit(COMMENT)
            self.pos += len(RIGHT) + (2 if right_trim else 0)
            self._ignore()
            if right_trim:
                self._trim_right()
            return True
        self.pos += len(LEFT)
        self._emit(LEFT_DELIM)
        self.pos += 2 if trim else 0
        self._ignore()
        self.paren_depth = 0
        self.inside = True
        return True

    def _trim_right(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACES:
            self.pos += 1
        self._ignore()

    def _at_right_delim(self) -> tuple[bool, bool]:
        text, pos = self.text, self.pos
        if text.startswith(RIGHT, pos):
            return True, False
        if pos < len(text) and text[pos] in _SPACES and text.startswith("-" + RIGHT, pos + 1):
            return True, True
        return False, False

    def _inside_action(self) -> bool:
        """Lex one token inside an action; False when lexing must stop."""
        text = self.text
        delim, trim = self._at_right_delim()
        if delim:
            if self.paren_depth:
                self._error("unclosed left paren")
                return False
            if trim:
                self.pos += 1
                self._ignore()
                self.pos += 1
                self._ignore()
            self.pos += len(RIGHT)
            self._emit(RIGHT_DELIM)
            if trim:
                self._trim_right()
            self.inside = False
            return True
        c = self._peek()
        if c == "":
            self._error("unclosed action")
            return False
        self.pos += 1
        if c in _SPACES:
            while self.pos < len(text) and text[self.pos] in _SPACES:
                if self._at_right_delim()[1]:
                    break
                self.pos += 1
            self._emit(SPACE)
        elif c == "=":
            self._emit(ASSIGN)
        elif c == ":":
            if self._peek() != "=":
                self._error("expected :=")
                return False
            self.pos += 1
            self._emit(DECLARE)
        elif c == "|":
            self._emit(PIPE)
        elif c == '"':
            return self._quote()
        elif c == "`":
            end = text.find("`", self.pos)
            if end < 0:
                self._error("unterminated raw quoted string")
                return False
            self.pos = end + 1
            self._emit(RAW_STRING)
        elif c == "$":
            self._word(VARIABLE)
        elif c == "'":
            return self._char()
        elif c == ".":
            nxt = self._peek()
            if nxt and not nxt.isdigit():
                self._word(FIELD)
            elif nxt and nxt.isdigit():
                self.pos -= 1
                return self._number()
            else:
                self._emit(DOT)
        elif c in "+-" or c.isdigit():
            self.pos -= 1
            return self._number()
        elif _is_alnum(c):
            self.pos -= 1
            self._identifier()
        elif c == "(":
            self.paren_depth += 1
            self._emit(LEFT_PAREN)
        elif c == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self._error("unexpected right paren")
                return False
            self._emit(RIGHT_PAREN)
        elif c.isascii() and c.isprintable():
            self._emit(CHAR)
        else:
            self._error(f"unrecognized character in action: {go_quote_char(c)}")
            return False
        return True

    def _word(self, kind: str) -> None:
        """A field (.Name) or a variable ($name); '$' alone and '.' alone are valid too."""
        while self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
            self.pos += 1
        if kind == FIELD and self.pos == self.start + 1:
            self._emit(DOT)
            return
        self._emit(kind)

    def _identifier(self) -> None:
        while self.pos < len(self.text) and _is_alnum(self.text[self.pos]):
            self.pos += 1
        word = self.text[self.start : self.pos]
        if word in KEYWORDS:
            self._emit(KEYWORD)
        elif word in ("true", "false"):
            self._emit(BOOL)
        elif word == "nil":
            self._emit(NIL)
        else:
            self._emit(IDENTIFIER)

    def _quote(self) -> bool:
        text = self.text
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                self._error("unterminated quoted string")
                return False
            c = text[self.pos]
            self.pos += 1
            if c == "\\":
                if self.pos >= len(text) or text[self.pos] == "\n":
                    self._error("unterminated quoted string")
                    return False
                self.pos += 1
            elif c == '"':
                break
        self._emit(STRING)
        return True

    def _char(self) -> bool:
        text = self.text
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                self._error("unterminated character constant")
                return False
            c = text[self.pos]
            self.pos += 1
            if c == "\\":
                self.pos += 1
            elif c == "'":
                break
        self._emit(CHAR_CONSTANT)
        return True

    def _number(self) -> bool:
        text = self.text
        if self.pos < len(text) and text[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(text) and (_is_alnum(text[self.pos]) or text[self.pos] in ".+-"):
            c = text[self.pos]
            if c in "+-" and text[self.pos - 1] not in "eEpP":
                break
            self.pos += 1
        if self.pos < len(text) and _is_alnum(text[self.pos]):
            self.pos += 1
            self._error(f"bad number syntax: {go_quote_simple(text[self.start : self.pos])}")
            return False
        self._emit(NUMBER)
        return True


def go_quote_char(c: str) -> str:
    """Go's %#U-like rendering used in 'unrecognized character' errors."""
    return f"U+{ord(c):04X} {c!r}"
