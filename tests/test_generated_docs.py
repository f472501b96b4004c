"""The generated references (docs/reference/cli.md, formats.md) are current, and every
document the code cites lies inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from padt_eval.tools import gen_docs

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", [gen_docs.CLI_DOC, gen_docs.FORMATS_DOC], ids=lambda p: p.name)
def test_committed_reference_is_what_the_generator_writes(path):
    expected = gen_docs.generated()[path]
    assert path.is_file(), f"{path} missing: run `python -m padt_eval.tools.gen_docs`"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(REPO)} is stale: run `python -m padt_eval.tools.gen_docs`"
    )


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text("old\n")
    monkeypatch.setattr(gen_docs, "CLI_DOC", stale)
    monkeypatch.setattr(gen_docs, "FORMATS_DOC", tmp_path / "formats.md")
    assert gen_docs.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert stale.read_text() == "old\n"  # --check writes nothing
    assert gen_docs.main([]) == 0 and gen_docs.main(["--check"]) == 0


def test_cli_reference_lists_every_command_and_option_as_help_prints_them():
    """Independent of the generator's walk: each command's own `--help` output names its
    options, and every one of them is in the reference under that command's heading."""
    from typer.testing import CliRunner

    from padt_eval.cli import app

    text = gen_docs.cli_reference()
    sections = dict(re.findall(r"^#+ `(padt-eval[^`]*)`\n(.*?)(?=^#+ `padt-eval|\Z)", text, flags=re.M | re.S))
    commands = [c for c in sections if c != "padt-eval"]
    assert {"padt-eval rec", "padt-eval ric", "padt-eval data fetch", "padt-eval compare"} <= set(commands)
    runner = CliRunner()
    checked = 0
    for command in commands:
        result = runner.invoke(app, [*command.split()[1:], "--help"])
        assert result.exit_code == 0, result.output
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", result.output)) - {"--help"}
        checked += len(options)
        for opt in options:
            assert opt in sections[command], f"{opt} of `{command}` missing from docs/reference/cli.md"
    assert checked > 100
    assert "--layout" not in sections["padt-eval ric"]  # ric has no --layout; the reference must not invent one


def test_formats_reference_has_every_parser_and_family():
    from padt_eval.models.base import families
    from padt_eval.models.coords import FORMATS

    text = gen_docs.formats_reference()
    for name, fmt in FORMATS.items():
        assert f"| `{name}` |" in text and gen_docs._cell(fmt.frame) in text
    for name in families():
        assert f"| `{name}` |" in text


# Places a citation must not point: the workspace the project was written in.
OUTSIDE = re.compile(r"/work/shared|\.\./shared|(?<![\w/])shared/(docs|fixtures)")
CITED_DOC = re.compile(r"(?<![\w./])docs/([\w/.-]+\.md)")


def _sources():
    for folder in ("padt_eval", "tests", "benchmarks"):
        yield from sorted((REPO / folder).rglob("*.py"))


def _lines_matching(pattern: re.Pattern) -> list[str]:
    """`path:line: text` of every source line (this file aside) the pattern matches."""
    return [
        f"{p.relative_to(REPO)}:{i}: {line.strip()}"
        for p in _sources()
        if p != Path(__file__)
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_no_citation_points_outside_the_repository():
    hits = _lines_matching(OUTSIDE)
    assert not hits, "citations outside the repository:\n" + "\n".join(hits)


def test_every_cited_doc_exists():
    missing = sorted(
        {
            f"{p.relative_to(REPO)}: docs/{m.group(1)}"
            for p in _sources()
            for m in CITED_DOC.finditer(p.read_text(encoding="utf-8"))
            if not (REPO / "docs" / m.group(1)).is_file()
        }
    )
    assert not missing, "cited documents that are not in docs/:\n" + "\n".join(missing)


def test_readme_section_citations_name_a_readme_heading():
    """`(README, "Some section")` in a docstring must name a heading the README has."""
    headings = {h.strip() for h in re.findall(r"^#+ (.+)$", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.M)}
    cited = re.compile(r'README,?\s+"([^"]+)"')
    bad = [
        f"{p.relative_to(REPO)}: {m.group(1)!r}"
        for p in _sources()
        if p != Path(__file__)
        for m in cited.finditer(p.read_text(encoding="utf-8"))
        if " ".join(m.group(1).split()) not in headings
    ]
    assert not bad, "README sections cited that the README does not have:\n" + "\n".join(bad)


def test_bare_baselines_citations_name_the_reference_copy():
    """`baselines.md §2.6` cites a section of the reference notes; said bare it would point
    at docs/baselines.md (the user guide), which has no such section."""
    bare = re.compile(r"(?<![\w/])baselines\.md\s*§")  # \s also spans a docstring's line break
    hits = [
        f"{p.relative_to(REPO)}: {m.group(0)!r}"
        for p in _sources()
        if p != Path(__file__)
        for m in bare.finditer(p.read_text(encoding="utf-8"))
    ]
    assert not hits, "write docs/reference/baselines.md §…:\n" + "\n".join(hits)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_the_docs_resolve():
    """Every relative link in README.md and docs/ names a file that exists and, with a
    `#fragment`, a heading that file has (moving text between pages must not strand one)."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    anchors = {p: {_anchor(h) for h in re.findall(r"^#+ (.+)$", p.read_text(encoding="utf-8"), flags=re.M)} for p in pages}
    broken = []
    for page in pages:
        prose = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for link in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", link):
                continue
            path, _, fragment = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.relative_to(REPO)}: {link} (no such file)")
            elif fragment and target.suffix == ".md" and fragment not in anchors.get(target, set()):
                broken.append(f"{page.relative_to(REPO)}: {link} (no such heading)")
    assert not broken, "\n".join(broken)
