"""docs/bad_input.md is the specification: every row of its case table is run here.

CLI rows run the ketasim binary ($KETASIM_CLI, PATH, or build/ketasim) and check the exit code
and that stderr contains the fragment; Python rows evaluate the expression and check the
exception class and message. See the table's "How a row is read".
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import ketasim as ks

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "bad_input.md"


def _cli() -> str | None:
    for c in (os.environ.get("KETASIM_CLI"), shutil.which("ketasim"), str(REPO / "build" / "ketasim")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def _code(cell: str) -> str:
    cell = cell.strip()
    if not (cell.startswith("`") and cell.endswith("`")):
        raise AssertionError(f"docs/bad_input.md: cell {cell!r} must be `code`")
    return cell[1:-1]


def _rows() -> list[tuple[str, str, str, str, str]]:
    rows = []
    in_cases = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_cases = line.strip() == "## Cases"
            continue
        if not in_cases or not line.startswith("| ") or line.startswith("| #") or line.startswith("|---"):
            continue
        # Split on " | " (cells may contain '|' inside code only rarely; none do today).
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 6, f"docs/bad_input.md: row needs 6 cells: {line}"
        num, path, rule, case, expect, fragment = cells
        rows.append((num, path, case, expect, fragment))
    return rows


ROWS = _rows()


def _pd_file(spec: str) -> str:
    """'<library name>:<edit>': the library PD file with one edit ('param=value unit', 'rename a=b'
    or 'text OLD=>NEW', every occurrence of OLD)."""
    name, edit = spec.split(":", 1)
    text = (REPO / "models" / "pd" / f"{name}.toml").read_text(encoding="utf-8")
    if edit.startswith("text "):
        old, new = edit[len("text ") :].split("=>")
        assert old in text, f"{old!r} not in {name}.toml"
        return text.replace(old, new)
    if edit.startswith("rename "):
        old, new = edit[len("rename ") :].split("=")
        return text.replace(f"[parameters.{old}]", f"[parameters.{new}]")
    param, rest = edit.split("=", 1)
    value, unit = rest.split(" ", 1)
    m = re.search(rf"\[parameters\.{re.escape(param)}\]\nvalue = [^\n]*\nunit = \"[^\"]*\"", text)
    assert m, f"no [parameters.{param}] with value and unit in {name}.toml"
    return text[: m.start()] + f'[parameters.{param}]\nvalue = {value}\nunit = "{unit}"' + text[m.end() :]


def _materialize(case: str, tmp: Path, quote) -> str:
    """Replaces {csv:...}, {toml:...}, {pd:...} by temporary file paths (quoted by `quote`)."""
    n = 0

    def repl(m: re.Match) -> str:
        nonlocal n
        n += 1
        kind, body = m.group(1), m.group(2)
        if kind == "pd":
            text, ext = _pd_file(body), "toml"
        else:
            text, ext = body.replace("\\n", "\n") + "\n", kind
        p = tmp / f"case{n}.{ext}"
        p.write_text(text, encoding="utf-8")
        return quote(str(p))

    return re.sub(r"\{(csv|toml|pd):(.*?)\}(?=[\s)`]|$)", repl, case)


def test_table_has_every_input_path():
    paths = {r[1] for r in ROWS}
    for p in ("CLI flags", "model file", "regimen file", "event table", "PD file", "Python arguments"):
        assert p in paths, f"docs/bad_input.md has no row for {p}"
    nums = [r[0] for r in ROWS]
    assert len(nums) == len(set(nums)), "row numbers must be unique"


@pytest.mark.parametrize("num,path,case,expect,fragment", ROWS, ids=[f"row{r[0]}" for r in ROWS])
def test_bad_input_row(num, path, case, expect, fragment, tmp_path):
    case, fragment = _code(case), _code(fragment)
    if case.startswith("ketasim "):
        cli = _cli()
        if cli is None:
            pytest.skip("ketasim CLI binary not found ($KETASIM_CLI, PATH, build/ketasim)")
        argv = shlex.split(_materialize(case, tmp_path, shlex.quote))
        proc = subprocess.run([cli] + argv[1:], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        m = re.fullmatch(r"exit (\d+)", expect)
        assert m, f"row {num}: a CLI case expects 'exit N', got {expect!r}"
        assert proc.returncode == int(m.group(1)), f"row {num}: exit {proc.returncode}, stderr: {proc.stderr}"
        assert fragment in proc.stderr, f"row {num}: {fragment!r} not in stderr: {proc.stderr}"
        if proc.returncode != 0:
            assert len(proc.stderr.strip().splitlines()) == 1, f"row {num}: message is not one line: {proc.stderr}"
    else:
        expr = _materialize(case, tmp_path, repr)
        exc_type = {"ValueError": ValueError, "TypeError": TypeError, "InputError": ks.InputError}[expect]
        with pytest.raises(exc_type) as e:
            eval(expr, {"ks": ks})  # noqa: S307 - the expression is from our own docs table
        assert fragment in str(e.value), f"row {num}: {fragment!r} not in: {e.value}"
