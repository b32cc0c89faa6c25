"""The README is a front door and docs/ holds the rest: every relative link resolves, every experiment has a page."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)\)")


def _prose(path):
    """The page's lines outside fenced code blocks (a link inside a code block is not a link)."""
    fenced = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield line


def _slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path):
    return {_slug(line.lstrip("#")) for line in _prose(path) if re.match(r"#{1,6} ", line)}


def _links(path):
    for line in _prose(path):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not checked here
                yield target


def test_the_slug_is_github_s():
    assert _slug(" Precomputed inputs (ready flow images, apex crops, arrays)") == \
        "precomputed-inputs-ready-flow-images-apex-crops-arrays"
    assert _slug(" The demo on SynthME (`make demo`)") == "the-demo-on-synthme-make-demo"
    assert _slug(" Papers 001 and 003 on SynthME 2.0") == "papers-001-and-003-on-synthme-20"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines: move detail to docs/"
    first = "\n".join(lines[:100])
    # "run paper 003 on my CASME II" is answered on the first screenful
    assert "mer-keras manifest casme2" in first and "mer-keras reproduce zhao2021_cropnet" in first
    assert "make demo" in first and "make test" in first  # .ci/run runs the README's `make test`


def test_every_experiment_has_a_page_or_is_linked_from_one():
    pages = sorted((ROOT / "docs" / "experiments").glob("*.md"))
    linked = {(page.parent / target.partition("#")[0]).resolve() for page in pages for target in _links(page)}
    missing = [toml.name for toml in sorted((ROOT / "experiments").glob("*.toml"))
               if not (ROOT / "docs" / "experiments" / f"{toml.stem}.md").exists() and toml.resolve() not in linked]
    assert not missing, f"experiments without a page in docs/experiments/ or a link from one: {missing}"
