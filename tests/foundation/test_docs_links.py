"""Every relative link of README.md and docs/*.md points to a file that exists, and to a heading
of that file when it names an anchor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings (lower case, punctuation dropped, spaces to -)."""
    found: set[str] = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower().replace("`", ""))
            slug = text.replace(" ", "-")
            n, candidate = 1, slug
            while candidate in found:
                candidate, n = f"{slug}-{n}", n + 1
            found.add(candidate)
    return found


def links(path: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8")))


def test_the_docs_folder_holds_the_pages_the_readme_promises() -> None:
    names = {p.name for p in PAGES}
    for page in ["numbers.md", "csv-formats.md", "api.md", "scaling.md", "security.md", "reliability.md",
                 "operations.md"]:
        assert page in names
    assert (REPO / "docs" / "img" / "board.png").is_file()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_to_an_existing_file_and_anchor(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        file = (page.parent / file_part).resolve() if file_part else page
        if not file.exists():
            broken.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_link_checker_finds_a_broken_link_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Some Section\n", encoding="utf-8")
    assert anchors(tmp_path / "a.md") == {"title", "some-section"}
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#some-section) [bad](missing.md) ```x``` [web](https://x.org)", encoding="utf-8")
    assert links(page) == ["a.md#some-section", "missing.md", "https://x.org"]
