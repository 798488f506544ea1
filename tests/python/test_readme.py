"""The README's Python example runs: the ```python block under the heading "## Python"."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_block(text: str) -> str | None:
    m = re.search(r"^## Python[ \t]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not m:
        return None
    code = re.search(r"```python[ \t]*\n(.*?)```", m.group(1), flags=re.S)
    return code.group(1) if code else None


def test_readme_python_example(tmp_path, monkeypatch):
    if not README.is_file():
        pytest.skip("README.md does not exist yet")
    code = python_block(README.read_text(encoding="utf-8"))
    if code is None:
        pytest.skip('README.md has no ```python block under "## Python" yet')
    monkeypatch.chdir(tmp_path)   # examples may write files (out/...)
    os.environ.setdefault("MPLBACKEND", "Agg")
    exec(compile(code, str(README) + ":## Python", "exec"), {"__name__": "__readme__"})


def test_block_extraction():
    text = "# x\n## Python\nintro\n```python\nprint(1)\n```\n## CLI\n```python\nnot this\n```\n"
    assert python_block(text) == "print(1)\n"
    assert python_block("## CLI\n```python\nx\n```\n") is None
