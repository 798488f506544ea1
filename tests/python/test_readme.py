"""The README's Python examples run: the first ```python block under the headings "## Python" and
"## Treatment courses"."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_block(text: str, heading: str = "Python") -> str | None:
    m = re.search(r"^## " + re.escape(heading) + r"[ \t]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not m:
        return None
    code = re.search(r"```python[ \t]*\n(.*?)```", m.group(1), flags=re.S)
    return code.group(1) if code else None


@pytest.mark.parametrize("heading", ["Python", "Treatment courses"])
def test_readme_python_example(tmp_path, monkeypatch, heading):
    if not README.is_file():
        pytest.skip("README.md does not exist yet")
    code = python_block(README.read_text(encoding="utf-8"), heading)
    if code is None:
        pytest.skip(f'README.md has no ```python block under "## {heading}" yet')
    monkeypatch.chdir(tmp_path)  # examples may write files (out/...)
    os.environ.setdefault("MPLBACKEND", "Agg")
    exec(compile(code, f"{README}:## {heading}", "exec"), {"__name__": "__readme__"})
    if heading == "Treatment courses":
        import matplotlib.pyplot as plt

        plt.close("all")


def test_block_extraction():
    text = "# x\n## Python\nintro\n```python\nprint(1)\n```\n## CLI\n```python\nnot this\n```\n"
    assert python_block(text) == "print(1)\n"
    assert python_block("## CLI\n```python\nx\n```\n") is None
