"""The docs test fails when an example breaks: broken snippets fed through the same runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phlo_lakehouse_tests.docs.markdown_examples import (
    DocsExampleError,
    check_data_block,
    extract_blocks,
    kind_of,
    run_python_block,
    run_shell_block,
    shell_commands,
)

BROKEN_PYTHON = """# Doc
Some prose.

```python
from phlo_lakehouse import CatalogSettings
lakehouse = IcebergLakehouse(settings)
```
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHLO_LAKEHOUSE_")}
    env["PHLO_LAKEHOUSE_HOME"] = str(home)
    return env


def test_a_python_block_with_an_undefined_name_fails_naming_file_and_line(tmp_path: Path) -> None:
    (block,) = extract_blocks("docs/broken.md", BROKEN_PYTHON)
    assert block.line == 5
    with pytest.raises(DocsExampleError, match=r"docs/broken.md:5: NameError: .*IcebergLakehouse"):
        run_python_block(block, {}, tmp_path)


def test_a_python_block_that_works_passes_and_later_blocks_see_its_names(tmp_path: Path) -> None:
    text = "```python\nx = 40\n```\n\n```python\nassert x + 2 == 42\n```\n"
    namespace: dict[str, object] = {}
    for block in extract_blocks("ok.md", text):
        run_python_block(block, namespace, tmp_path)
    assert namespace["x"] == 40
    broken = extract_blocks("ok.md", "```python\nassert x == 41\n```\n")[0]
    with pytest.raises(DocsExampleError, match="AssertionError"):
        run_python_block(broken, namespace, tmp_path)


def test_a_cli_block_on_a_table_the_demo_lacks_fails_and_the_declared_exit_code_passes(
    tmp_path: Path,
) -> None:
    text = (
        "```bash\n$ phlo-lakehouse tables stats raw.events\n```\n\n"
        "<!-- docs-test: exit=2 -->\n```console\n$ phlo-lakehouse tables stats raw.events\n"
        "error: table raw.events not found\n```\n"
    )
    unmarked, marked = extract_blocks("cli.md", text)
    home = tmp_path / ".lakehouse"
    home.mkdir()
    with pytest.raises(
        DocsExampleError, match=r"cli.md:2: `phlo-lakehouse tables stats raw.events` exited 2"
    ):
        run_shell_block(unmarked, tmp_path, _env(home))
    assert run_shell_block(marked, tmp_path, _env(home)) == [
        "phlo-lakehouse tables stats raw.events"
    ]


def test_shell_blocks_run_only_cli_lines_with_prompts_and_continuations_handled() -> None:
    code = (
        "make run\npip install .\nphlo-lakehouse optimize demo.events \\\n  --dry-run  # preview\n"
    )
    assert shell_commands(code) == ["phlo-lakehouse optimize demo.events --dry-run  # preview"]
    console = "$ phlo-lakehouse tables list\nTABLE  NAMESPACE\nphlo-lakehouse not-a-command\n"
    assert shell_commands(console) == ["phlo-lakehouse tables list"]


def test_yaml_that_does_not_parse_fails_and_blocks_without_a_language_are_refused() -> None:
    bad_yaml, untyped, text = extract_blocks(
        "y.md", "```yaml\nops: {a: [1, 2\n```\n\n```\nsomething\n```\n\n```text\nout\n```\n"
    )
    with pytest.raises(DocsExampleError, match="y.md:2: does not parse"):
        check_data_block(bad_yaml)
    with pytest.raises(DocsExampleError, match=r"y.md:6: fenced block with language '\(none\)'"):
        kind_of(untyped)
    assert kind_of(text) == "text"


def test_marks_are_read_from_the_line_before_the_fence_and_unknown_marks_refused() -> None:
    (block,) = extract_blocks(
        "m.md", '<!-- docs-test: needs=nessie,moto skip="output sample" -->\n```python\npass\n```\n'
    )
    assert block.needs == ["nessie", "moto"] and block.marks["skip"] == "output sample"
    with pytest.raises(DocsExampleError, match="unknown docs-test mark 'nesds=x'"):
        extract_blocks("m.md", "<!-- docs-test: nesds=x -->\n```python\npass\n```\n")
    with pytest.raises(DocsExampleError, match="never closed"):
        extract_blocks("m.md", "```python\npass\n")
