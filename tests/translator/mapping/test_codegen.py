"""Generated builders: their source is kept, shows in tracebacks, and names the YAML behind each
value in comments that mapping text can never break out of (ADR 0003)."""

from __future__ import annotations

import ast
import linecache
from pathlib import Path

from translator.mapping.codegen import GeneratedCode, compile_statement, compile_template
from translator.mapping.directives import CompileContext
from translator.mapping.functions import FunctionContext
from translator.mapping.nodes import Issues, Loc, Node, load_yaml_file
from translator.targets.xapi import XAPI

# A file name and keys that would end a comment and run code if written into the source raw.
HOSTILE_FILE = "evil\n    raise SystemExit('file')\n\u2028import os\r#.yaml"
HOSTILE_KEY = "k\n    raise SystemExit('key')\n#"
MAPPING = """\
statement:
  "k\\n    raise SystemExit('key')\\n#": !path $.event.value
  "k\\u2028import os\\x85": [!path $.event.value, text]
  verb: {id: http://example.com/verbs/did}
"""


def _compile_context(issues: Issues) -> CompileContext:
    return CompileContext(
        issues=issues,
        vars={},
        tables={},
        fragments={},
        functions=FunctionContext(pseudonym_secret=b"codegen", actor_map={}),
        target=XAPI,
    )


def _hostile_statement(tmp_path: Path) -> tuple[Node, CompileContext]:
    path = tmp_path / "evil.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    issues = Issues()
    root = load_yaml_file(path, issues, shown_as=HOSTILE_FILE)
    assert root is not None and not issues.items, issues.items
    return root.value["statement"], _compile_context(issues)


def _assert_inert(code: GeneratedCode) -> None:
    """Mapping text is in comments only: no statement of the source came from it, its lines are
    the lines linecache holds, and its file name is one line."""
    tree = ast.parse(code.source)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Raise | ast.Import)]
    for line in code.source.splitlines():
        for text in ("SystemExit", "import os"):
            if text in line:
                assert line.index("#") < line.index(text), line
    assert len(code.source.splitlines()) == len(code.origins)
    assert linecache.getlines(code.filename) == code.source.splitlines(keepends=True)
    assert code.filename.isprintable() and "raise" in code.filename


def test_compile_template_comments_cannot_inject_code(tmp_path: Path) -> None:
    node, ctx = _hostile_statement(tmp_path)
    template = compile_template(node, ctx, name="evil\nname")
    assert not ctx.issues.items
    _assert_inert(template.code)
    assert "\\n" in template.code.filename and "evil\\nname" in template.code.filename
    built = template.build({"event": {"value": 7}})
    assert built[HOSTILE_KEY] == 7
    assert built["k\u2028import os\x85"] == [7, "text"]


def test_compile_statement_comments_cannot_inject_code(tmp_path: Path) -> None:
    node, ctx = _hostile_statement(tmp_path)
    template = compile_statement(node, ctx, name="evil")
    assert template.code is not None
    _assert_inert(template.code)
    statement, _mask, _suspect = template.build({"event": {"value": 7}})
    assert statement[HOSTILE_KEY] == 7


def test_generated_code_names_the_pointer_and_yaml_line_of_each_value(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(
        "statement:\n  object:\n    id: !path $.event.id\n    objectType: Activity\n",
        encoding="utf-8",
    )
    issues = Issues()
    root = load_yaml_file(path, issues, shown_as="xapi/plain.yaml")
    assert root is not None
    template = compile_statement(root.value["statement"], _compile_context(issues), name="plain")
    assert template.code is not None
    source = template.code.source
    assert "  # $.event.id\n" in source
    assert "  # /object/id <- xapi/plain.yaml:3:9\n" in source
    assert "  # /object <- xapi/plain.yaml:3:5 with objectType\n" in source
    assert template.code.filename == "<mapping plain at xapi/plain.yaml:2:3>"


def test_same_name_with_other_source_gets_its_own_linecache_entry(tmp_path: Path) -> None:
    issues = Issues()
    ctx = _compile_context(issues)
    first = compile_template(Node("scalar", 1, _loc()), ctx, name="twice")
    again = compile_template(Node("scalar", 1, _loc()), ctx, name="twice")
    path = Node("tag", Node("scalar", "$.a", _loc()), _loc(), "!path")
    other = compile_template(path, ctx, name="twice")
    assert first.code.filename == again.code.filename
    assert other.code.filename != first.code.filename
    assert linecache.getlines(other.code.filename) == other.code.source.splitlines(True)
    assert linecache.getlines(first.code.filename) == first.code.source.splitlines(True)


def _loc() -> Loc:
    return Loc("xapi/twice.yaml", 1, 1, "")


def test_a_path_is_read_once_where_every_later_read_can_see_it(tmp_path: Path) -> None:
    path = tmp_path / "reads.yaml"
    path.write_text(
        """\
statement:
  a: !path $.event.value
  b: !tpl "v={$.event.value}"
  c: !if {present: !path $.event.flag, then: !path $.event.other}
  d: !path $.event.other
  e: [!path $.event.value]
""",
        encoding="utf-8",
    )
    issues = Issues()
    root = load_yaml_file(path, issues)
    assert root is not None
    template = compile_template(root.value["statement"], _compile_context(issues))
    assert not issues.items, issues.items
    reads = [line.split("#")[1].strip() for line in template.code.source.splitlines()
             if "= doc  #" in line]  # fmt: skip
    # $.event.value read once for a, b and e; $.event.other read inside the branch, which
    # runs only sometimes, so d reads it again.
    assert reads == ["$.event.value", "$.event.flag", "$.event.other", "$.event.other"]
    built = template.build({"event": {"value": 3, "flag": True, "other": "o"}})
    assert built == {"a": 3, "b": "v=3", "c": "o", "d": "o", "e": [3]}
    assert template.build({"event": {"value": 3}}) == {"a": 3, "b": "v=3", "e": [3]}


def test_a_builder_is_compiled_at_its_first_call_and_then_runs_as_itself(tmp_path: Path) -> None:
    node, ctx = _hostile_statement(tmp_path)
    template = compile_template(node, ctx, name="lazy")
    assert template.build.__code__.co_filename == "<stub>"  # loading a plan compiles nothing
    first = template.build({"event": {"value": 1}})
    # the first call gave the stub the builder's own code: no stub runs on later calls, and a
    # traceback names the builder's source
    assert template.build.__code__.co_filename == template.code.filename
    assert template.build({"event": {"value": 1}}) == first
    assert template.build({"event": {"value": 2}})[HOSTILE_KEY] == 2


def test_a_template_nested_beyond_what_python_compiles_is_a_mapping_error(tmp_path: Path) -> None:
    nested = "x"
    for level in range(120):  # Python compiles at most 100 levels of indentation
        nested = f"!if {{present: !path $.event.a{level}, then: {nested}}}"
    path = tmp_path / "deep.yaml"
    path.write_text(f"statement:\n  response: {nested}\n", encoding="utf-8")
    issues = Issues()
    root = load_yaml_file(path, issues)
    assert root is not None
    compile_template(root.value["statement"], _compile_context(issues))
    (problem,) = issues.items
    assert "nested too deeply" in str(problem) and "deep.yaml:2:" in str(problem)
