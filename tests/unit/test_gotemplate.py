"""Go text/template semantics: expectations from Go's documentation and its exec/parse tests."""

from __future__ import annotations

import pytest

from pallet.cli.gotemplate import NO_VALUE, Struct, TemplateError, parse, render

DATA = {
    "Name": "web",
    "Num": 3,
    "Float": 1.5,
    "True": True,
    "Empty": "",
    "Nil": None,
    "List": ["a", "b", "c"],
    "Ints": [1, 2, 3, 4, 5],
    "EmptyList": [],
    "Map": {"b": 2, "a": 1, "c": 3},
    "EmptyMap": {},
    "Nested": {"A": {"B": {"C": "deep"}}},
    "Objs": [{"Name": "x", "Port": 80}, {"Name": "y", "Port": 443}],
    "Struct": Struct({"Status": "running", "Pid": 42, "Health": None}, type_name="*types.ContainerState"),
}

CASES = [
    # fields, nesting, maps
    ("{{.Name}}", "web"),
    ("{{.Nested.A.B.C}}", "deep"),
    ("{{.Missing}}", "<no value>"),
    ("{{.Missing.Deeper}}", "<no value>"),
    ("{{.Nil}}", "<no value>"),
    ("{{.Struct.Health}}", "<nil>"),
    ("{{.Struct}}", "{running 42 <nil>}"),
    ("{{.Map}}", "map[a:1 b:2 c:3]"),
    ("{{.List}}", "[a b c]"),
    ("{{.EmptyList}}", "[]"),
    ("{{.Objs}}", "[map[Name:x Port:80] map[Name:y Port:443]]"),
    ("{{.True}} {{.Float}} {{.Num}}", "true 1.5 3"),
    ("{{.}}", None),  # replaced below: the whole map prints as map[...]
    # variables
    ("{{$x := .Name}}{{$x}}", "web"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{$}}", None),
    ("{{with .Nested}}{{$.Name}}{{end}}", "web"),
    ("{{$n := .Nested}}{{$n.A.B.C}}", "deep"),
    # pipelines and parentheses
    ('{{.Name | printf "%s!"}}', "web!"),
    ('{{"x" | printf "%s-%s" "y"}}', "y-x"),
    ("{{(index .Objs 1).Name}}", "y"),
    ('{{printf "%d" (len .List)}}', "3"),
    ("{{.Name | upper | lower}}", "web"),
    # if / else if / else / with
    ("{{if .True}}yes{{end}}", "yes"),
    ("{{if .Empty}}yes{{else}}no{{end}}", "no"),
    ("{{if .EmptyList}}y{{else if .Num}}num{{else}}n{{end}}", "num"),
    ("{{if .EmptyMap}}y{{else if .Nil}}nil{{else}}n{{end}}", "n"),
    ("{{if .Struct}}struct is true{{end}}", "struct is true"),
    ("{{with .Name}}<{{.}}>{{end}}", "<web>"),
    ("{{with .Empty}}x{{else}}empty{{end}}", "empty"),
    ("{{with .Missing}}x{{else with .Num}}n={{.}}{{end}}", "n=3"),
    # range
    ("{{range .List}}{{.}},{{end}}", "a,b,c,"),
    ("{{range $i, $e := .List}}{{$i}}:{{$e}} {{end}}", "0:a 1:b 2:c "),
    ("{{range $e := .List}}{{$e}}{{end}}", "abc"),
    ("{{range $k, $v := .Map}}{{$k}}={{$v}};{{end}}", "a=1;b=2;c=3;"),
    ("{{range .Map}}{{.}}{{end}}", "123"),
    ("{{range .EmptyList}}x{{else}}none{{end}}", "none"),
    ("{{range .Missing}}x{{else}}none{{end}}", "none"),
    ("{{range .Objs}}{{.Name}}:{{.Port}} {{end}}", "x:80 y:443 "),
    ("{{range .Ints}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}", "13"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{range $i, $e := .List}}{{if $i}}, {{end}}{{$e}}{{end}}", "a, b, c"),
    # trim markers and comments
    ("a  {{- .Name -}}  b", "awebb"),
    ("a\n\t{{- .Name}}\n", "aweb\n"),
    ("{{- /* a comment */ -}}  x", "x"),
    ("{{/* comment */}}y", "y"),
    ("{{-3}}", "-3"),
    # comparisons and logic
    (
        "{{eq .Num 3}} {{ne .Num 3}} {{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 3}}",
        "true false true true false false",
    ),
    ('{{eq .Name "db" "web"}}', "true"),
    ('{{lt "a" "b"}}', "true"),
    ('{{and 1 0 2}} {{and 1 2}} {{or 0 "" 3}} {{or 0 ""}} {{not .Empty}}', "0 2 3  true"),
    ("{{and .Nil .Nil.X}}", "<no value>"),  # and short-circuits: .Nil.X is never evaluated
    # len, index, slice
    ('{{len .List}} {{len .Map}} {{len .Name}} {{len "héllo"}}', "3 3 3 6"),
    ('{{index .List 1}} {{index .Map "b"}} {{index .Objs 0 "Port"}}', "b 2 80"),
    ('{{index .Map "zz"}}', "<no value>"),
    ("{{index .Name 0}}", "119"),
    ("{{slice .List 1}} {{slice .List 1 2}} {{slice .Name 1 3}} {{slice .Name}}", "[b c] [b] eb web"),
    # print family
    ('{{print "a" 1 2 "b" 3.5}}', "a1 2b3.5"),
    ('{{println "a" 1}}', "a 1\n"),
    ("{{print .Nil}}", "<nil>"),
    ("{{print .List .Map}}", "[a b c] map[a:1 b:2 c:3]"),
    # literals
    (
        "{{1.5}} {{1e6}} {{100000.0}} {{1e-5}} {{0.0001}} {{'a'}} {{0x1F}} {{0o17}} {{017}} {{1_000}}",
        "1.5 1e+06 100000 1e-05 0.0001 97 31 15 15 1000",
    ),
    ('{{"a\\tb\\u00e9"}} {{`raw\\n`}}', "a\tbé raw\\n"),
    ("{{true}} {{false}}", "true false"),
    # define / template / block
    ('{{define "T"}}[{{.}}]{{end}}{{template "T" .Name}}{{template "T"}}', "[web][<no value>]"),
    ('{{block "B" .Num}}<{{.}}>{{end}}', "<3>"),
    # docker's functions
    (
        "{{json .List}} {{json .Map}} {{json .Nil}} {{json .Float}} {{json 2.0}}",
        '["a","b","c"] {"a":1,"b":2,"c":3} null 1.5 2',
    ),
    ("{{json .Struct}}", '{"Status":"running","Pid":42,"Health":null}'),
    ('{{json "<a&b>\\n"}}', '"<a&b>\\n"'),
    ('{{join .List ", "}}', "a, b, c"),
    ('{{split "a:b:c" ":"}} {{index (split "a:b" ":") 1}}', "[a b c] b"),
    ('{{title "hello wORLD-x"}} {{upper "ab"}} {{lower "AB"}}', "Hello WORLD-X AB ab"),
    ('[{{pad "x" 2 1}}][{{pad "" 2 1}}]', "[  x ][]"),
    ('{{truncate "abcdef" 3}} {{truncate "ab" 3}}', "abc ab"),
    ('{{html "<a href=\'x\'>&"}} {{urlquery "a b&c"}}', "&lt;a href=&#39;x&#39;&gt;&amp; a+b%26c"),
]


@pytest.mark.parametrize(("text", "want"), CASES, ids=[c[0][:40] for c in CASES])
def test_render(text: str, want: str | None) -> None:
    got = render(text, DATA)
    if want is None:
        assert got.startswith("map[") and "Name:web" in got
    else:
        assert got == want


def test_methods_of_structs_and_objects() -> None:
    labels = {"com.example": "v"}
    row = Struct(
        {"ID": "abc", "Label": lambda key: labels.get(key, "")}, type_name="*formatter.ContainerContext"
    )
    assert render('{{.ID}} {{.Label "com.example"}} [{{.Label "nope"}}]', row) == "abc v []"

    class Obj:
        Name = "obj"

        def Upper(self, s: str) -> str:  # a Go-style method name
            return s.upper()

    assert render('{{.Name}} {{.Upper "x"}}', Obj()) == "obj X"


def test_missingkey_options() -> None:
    t = parse("{{.A}}")
    assert t.execute({}) == "<no value>"
    assert t.option("zero").execute({}) == "<no value>"
    with pytest.raises(TemplateError) as e:
        t.option("error").execute({})
    assert str(e.value) == 'template: :1:2: executing "" at <.A>: map has no entry for key "A"'
    with pytest.raises(ValueError, match="missingkey=bogus"):
        t.option("bogus")


def test_partial_output_is_kept_on_error() -> None:
    out: list[str] = []
    with pytest.raises(TemplateError):
        parse("before {{index .L 9}} after").execute_into(out, {"L": []})
    assert "".join(out) == "before "


PARSE_ERRORS = [
    ("{{.Foo", "template: :1: unclosed action"),
    ("{{.Foo}", 'template: :1: unexpected "}" in operand'),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{if .X}}", "template: :1: unexpected EOF"),
    ("{{nosuch .X}}", 'template: :1: function "nosuch" not defined'),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{}}", "template: :1: missing value for command"),
    ("{{if}}{{end}}", "template: :1: missing value for if"),
    ("{{.X | 1}}", "template: :1: non executable command in pipeline stage 2"),
    ("{{range $a, $b, $c := .X}}{{end}}", "template: :1: too many declarations in range"),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ('{{"abc}}', "template: :1: unterminated quoted string"),
    ("{{/* x }}", "template: :1: unclosed comment"),
    ("a\nb\n{{.X", "template: :3: unclosed action"),
    ("{{3.x}}", 'template: :1: bad number syntax: "3.x"'),
    ("{{with $x := 1}}{{end}}{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{true.X}}", 'template: :1: unexpected . after term "true"'),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS, ids=[p[0] for p in PARSE_ERRORS])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        parse(text)
    assert str(e.value) == message


EXEC_ERRORS = [
    (
        "{{.Name.X}}",
        {"Name": "s"},
        'template: :1:2: executing "" at <.Name.X>: can\'t evaluate field X in type interface {}',
    ),
    ("{{.X}}", "str", 'template: :1:2: executing "" at <.X>: can\'t evaluate field X in type string'),
    (
        "{{.Nil.X}}",
        {"Nil": None},
        'template: :1:2: executing "" at <.Nil.X>: nil pointer evaluating interface {}.X',
    ),
    (
        "{{.Foo}}",
        Struct({}, type_name="*formatter.ContainerContext"),
        'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.ContainerContext',
    ),
    (
        "{{index .L 5}}",
        {"L": [1]},
        'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5',
    ),
    ("{{len 3}}", {}, 'template: :1:2: executing "" at <len 3>: error calling len: len of type int'),
    (
        '{{eq 1 "a"}}',
        {},
        'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison',
    ),
    (
        "{{lt true false}}",
        {},
        'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison',
    ),
    ("{{len}}", {}, 'template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0'),
    ("x\n {{nil}}", {}, 'template: :2:3: executing "" at <nil>: nil is not a command'),
    ("{{.X 1}}", {"X": 1}, 'template: :1:2: executing "" at <.X>: X is not a method but has arguments'),
    (
        "{{range .X}}{{end}}",
        {"X": "str"},
        'template: :1:8: executing "" at <.X>: range can\'t iterate over str',
    ),
    (
        '{{join .X ","}}',
        {"X": [1]},
        'template: :1:7: executing "" at <.X>: wrong type for value; expected []string; got []interface {}',
    ),
    (
        '{{template "nope"}}',
        {},
        'template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined',
    ),
    ("{{1 2}}", {}, 'template: :1:2: executing "" at <1>: can\'t give argument to non-function 1'),
]


@pytest.mark.parametrize(("text", "data", "message"), EXEC_ERRORS, ids=[e[0] for e in EXEC_ERRORS])
def test_exec_errors(text: str, data: object, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        parse(text).execute(data)
    assert str(e.value) == message


def test_long_context_is_shortened_like_go() -> None:
    with pytest.raises(TemplateError) as e:
        parse("{{index .AAAAAAAAAAAAAAAAAAAA 1}}").execute({"AAAAAAAAAAAAAAAAAAAA": []})
    assert "at <index .AAAAAAAAAAAAA...>" in str(e.value)


def test_no_value_is_falsy_and_exported() -> None:
    assert not NO_VALUE
    assert render("{{if .X}}a{{else}}b{{end}}", {}) == "b"


def test_custom_funcs_and_arity() -> None:
    t = parse("{{double .N}} {{greet}}", funcs={"double": lambda x: x * 2, "greet": lambda: "hi"})
    assert t.execute({"N": 21}) == "42 hi"
    with pytest.raises(TemplateError, match="wrong number of args for double: want 1 got 2"):
        parse("{{double 1 2}}", funcs={"double": lambda x: x * 2}).execute({})
