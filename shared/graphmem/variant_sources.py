"""The variants' sources side by side: where they differ and whether each difference is marked.

`strong` is the canonical text; every line another variant adds, drops or changes must end
with `# policy: <variant>` on its own side (and the strong line it replaces with
`# policy: strong`). Blank lines carry no code and are not counted.
"""
import difflib
from dataclasses import dataclass
from pathlib import Path

from graphmem.facts import CANONICAL, ROOT, VARIANTS, VARIANTS_DIR
POLICY_MARK = "# policy: "


@dataclass(frozen=True)
class DifferingLine:
    """One line of one variant's file that is not the same in the canonical variant."""

    variant: str
    path: str  # relative to the variant's folder
    lineno: int
    text: str

    @property
    def marked(self):
        return self.text.rstrip().endswith(f"{POLICY_MARK}{self.variant}")


@dataclass(frozen=True)
class Hunk:
    """A run of lines that differs between strong and another variant, with both sides."""

    path: str
    strong_start: int
    strong_lines: tuple
    other_start: int
    other_lines: tuple


def variant_files(variant, root=VARIANTS_DIR):
    """Every source file that makes up a variant, relative to its folder, sorted."""
    folder = root / variant
    if not folder.is_dir():
        raise FileNotFoundError(f"no variant folder {folder}")
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in {".py", ".toml"} and "__pycache__" not in p.parts
        and not any(part.endswith(".egg-info") or part == "build" for part in p.parts)
    )


def _lines(variant, path, root):
    file = root / variant / path
    return file.read_text(encoding="utf-8").splitlines() if file.exists() else []


def hunks(variant, path, root=VARIANTS_DIR):
    """The differing runs of one file between strong and `variant`."""
    strong, other = _lines(CANONICAL, path, root), _lines(variant, path, root)
    matcher = difflib.SequenceMatcher(a=strong, b=other, autojunk=False)
    return [
        Hunk(path, i1 + 1, tuple(strong[i1:i2]), j1 + 1, tuple(other[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def differing_lines(variant, root=VARIANTS_DIR):
    """Every non-blank line, on either side, that differs between strong and `variant`."""
    paths = sorted(set(variant_files(CANONICAL, root)) | set(variant_files(variant, root)))
    found = []
    for path in paths:
        for hunk in hunks(variant, path, root):
            found += [DifferingLine(CANONICAL, path, hunk.strong_start + k, text)
                      for k, text in enumerate(hunk.strong_lines) if text.strip()]
            found += [DifferingLine(variant, path, hunk.other_start + k, text)
                      for k, text in enumerate(hunk.other_lines) if text.strip()]
    return found


def unmarked_differences(root=VARIANTS_DIR):
    """Differing lines, across all variants, that lack their `# policy:` mark."""
    return [line for variant in VARIANTS if variant != CANONICAL
            for line in differing_lines(variant, root) if not line.marked]
