"""docs/errors.md lists every error kind with an example message (issue 19).

Every exception and warning class defined anywhere in ``src/schoolmap`` (found with ``ast``, so a
new one cannot be missed), every exception class of :mod:`schoolmap.errors`, and every exit code
the command line returns has its place in the document: a heading of its own followed by a
fenced example, and a row of the table of kinds.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import schoolmap.errors

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
SRC = ROOT / "src" / "schoolmap"
_BASES = re.compile(r"(Error|Exception|Warning)$")


def _error_classes() -> dict[str, str]:
    """Name → file of every class in the package that is an exception or warning: its name or
    a base's name ends in Error, Exception or Warning."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(b).split(".")[-1] for b in node.bases]
            if _BASES.search(node.name) or any(_BASES.search(b) for b in bases):
                found[node.name] = str(path.relative_to(ROOT))
    return found


CLASSES = _error_classes()


def _section(name: str) -> str:
    """The text from the heading naming ``name`` to the next heading of the same or a higher
    level."""
    m = re.search(rf"^(#+) [^\n]*`{name}`[^\n]*$", DOC, re.M)
    assert m, f"docs/errors.md has no heading naming `{name}`"
    level = len(m.group(1))
    end = re.search(rf"^#{{1,{level}}} ", DOC[m.end():], re.M)
    return DOC[m.end(): m.end() + end.start() if end else len(DOC)]


def test_the_package_defines_the_classes_we_expect():
    assert {"SchoolmapError", "ValidationError", "InfeasibleError", "MemoryLimitError",
            "UnprovenError", "OutputFolderError", "UnprovenWarning", "TaskError"} <= set(CLASSES)


def test_every_class_of_schoolmap_errors_is_found():
    defined = {name for name, obj in vars(schoolmap.errors).items()
               if inspect.isclass(obj) and issubclass(obj, BaseException)
               and obj.__module__ == "schoolmap.errors"}
    assert defined and defined <= set(CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_error_class_has_a_row_a_section_and_an_example(name):
    assert re.search(rf"^\| `{name}` \|", DOC, re.M), f"no row for `{name}` in the table"
    section = _section(name)
    example = re.search(r"^```[a-z]*\n(.+?)^```", section, re.M | re.S)
    assert example, f"the section on `{name}` ({CLASSES[name]}) holds no example message"
    assert len(example.group(1).split()) >= 5


def test_every_exit_code_of_the_command_line_is_in_the_table():
    cli = (SRC / "run" / "cli.py").read_text(encoding="utf-8")
    codes = {int(c) for c in re.findall(r"return (\d+)\b", cli)} - {0}
    assert codes == {2, 3, 130}, codes  # a new code must be documented here and in the doc
    table = DOC.split("\n## ")[0]
    for code in codes:
        assert re.search(rf"\| {code} \|$", table, re.M), f"exit code {code} not in the table"
    assert "argparse" in table and "interrupted; no output was written" in table


def test_the_examples_are_the_programs_words():
    """A few examples checked against the code that prints them (the words, not the values)."""
    phrases = {
        "run/cli.py": ["interrupted; no output was written", "compare needs two or more"],
        "io/files.py": ["schoolmap replaces only its own outputs and deletes nothing"],
        "io/_validate.py": ["write numbers without quotes, units or thousands separators"],
        "run/scenario.py": ["nothing was computed. Free memory"],
        "allocation/optimal.py": ["is NOT proven optimal"],
        "highs.py": ["HiGHS found no solution"],
    }
    flat = " ".join(DOC.split())
    for path, words in phrases.items():
        code = " ".join((SRC / path).read_text(encoding="utf-8").split())
        for w in words:
            assert w in flat, w
            assert w in code.replace('" "', "").replace("\" f\"", ""), (path, w)
