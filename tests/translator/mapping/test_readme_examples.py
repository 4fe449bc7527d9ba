"""Runs every `yaml example` block of mappings/README.md: the documented output must be exact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from translator.config import default_mappings_dir
from translator.errors import TranslationError
from translator.mapping.codegen import compile_template
from translator.mapping.directives import CompileContext, compile_node, evaluator
from translator.mapping.functions import FUNCTIONS, FunctionContext
from translator.mapping.nodes import Issues, load_yaml_file
from translator.targets.xapi import XAPI

README = default_mappings_dir() / "README.md"
_BLOCK = re.compile(r"```yaml example\n(.*?)```", re.DOTALL)


def _examples() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def _run_example(text: str, tmp_path: Path, *, generated: bool) -> tuple[Any, Any]:
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    issues = Issues()
    root = load_yaml_file(path, issues)
    assert root is not None and not issues.items, issues.items
    fragments = root.value["fragments"].value if "fragments" in root.value else {}
    ctx = CompileContext(
        issues=issues,
        vars={"lms_root_url": "http://localhost:18000"},
        tables={},
        fragments=fragments,
        functions=FunctionContext(pseudonym_secret=b"readme", actor_map={}),
        target=XAPI,
    )
    mapping = root.value["mapping"]
    compiled = (
        compile_template(mapping, ctx).build if generated else evaluator(compile_node(mapping, ctx))
    )
    assert not issues.items, [str(i) for i in issues.items]
    document = orjson.loads(orjson.dumps(_data(root.value["input"])))
    expected = orjson.loads(orjson.dumps(_data(root.value["output"])))
    return compiled(document), expected


def _data(node: Any) -> Any:
    if node.kind == "map":
        return {k: _data(v) for k, v in node.value.items()}
    if node.kind == "seq":
        return [_data(v) for v in node.value]
    return node.value


def test_readme_has_an_example_for_every_value_directive() -> None:
    text = "".join(_examples())
    for tag in (
        "!path",
        "!paths",
        "!tpl",
        "!var",
        "!first",
        "!if",
        "!lookup",
        "!call",
        "!ref",
        "!each",
    ):
        assert f"{tag} " in text, f"mappings/README.md has no example of {tag}"


def test_readme_documents_every_built_in_function() -> None:
    # one registry (functions.py), one table (the section of `!call`): a function added to
    # either alone fails here
    section = README.read_text(encoding="utf-8").split("### `!call`", 1)[1].split("\n### ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for cell in rows for name in re.findall(r"`([a-z_]+)`", cell)}
    assert documented == set(FUNCTIONS)


@pytest.mark.parametrize("generated", [False, True], ids=["closures", "generated"])
@pytest.mark.parametrize("example", _examples(), ids=lambda e: e.split("\n", 3)[2].strip()[:40])
def test_readme_example_output_is_exact(example: str, generated: bool, tmp_path: Path) -> None:
    actual, expected = _run_example(example, tmp_path, generated=generated)
    assert actual == expected


@pytest.mark.parametrize("generated", [False, True], ids=["closures", "generated"])
def test_readme_reject_example_rejects_an_event_without_the_value(
    generated: bool, tmp_path: Path
) -> None:
    (example,) = [e for e in _examples() if "fn: reject" in e]
    without_id = example.replace('"id": "v1", ', "")
    assert without_id != example
    with pytest.raises(TranslationError, match=r"^the event names no video$"):
        _run_example(without_id, tmp_path, generated=generated)
