"""The drift guard: the variants differ only in lines marked `# policy: <variant>`."""
from graphmem.variant_sources import CANONICAL, VARIANTS, differing_lines, unmarked_differences


def test_every_difference_between_variants_is_a_marked_policy_line():
    unmarked = unmarked_differences()
    report = "\n".join(f"  variants/{line.variant}/{line.path}:{line.lineno}: {line.text.strip()}"
                       for line in unmarked)
    assert not unmarked, (
        f"lines that differ from variants/{CANONICAL} without a trailing '# policy: <variant>':\n{report}")


def test_each_variant_does_differ_in_policy():
    for variant in VARIANTS:
        if variant != CANONICAL:
            assert differing_lines(variant), f"{variant} is identical to {CANONICAL}"


def test_the_guard_catches_an_unmarked_change_a_mark_for_the_wrong_variant_and_a_new_file(tmp_path):
    import shutil
    from graphmem.variant_sources import VARIANTS_DIR
    for variant in VARIANTS:
        shutil.copytree(VARIANTS_DIR / variant / "dezero", tmp_path / variant / "dezero",
                        ignore=shutil.ignore_patterns("__pycache__"))
    assert unmarked_differences(tmp_path) == []
    core = tmp_path / "weakref" / "dezero" / "core.py"
    text = core.read_text()
    core.write_text(text.replace("    arity = None", "    arity = 1", 1)
                    .replace("# policy: weakref", "# policy: gc_only", 1))
    (tmp_path / "gc_only" / "dezero" / "extra.py").write_text("CACHE = []\n")
    found = {(line.variant, line.path, line.text.strip()) for line in unmarked_differences(tmp_path)}
    assert any(v == "weakref" and t.startswith("arity = 1") for v, _, t in found)
    assert any(v == "strong" and t.startswith("arity = None") for v, _, t in found)
    assert any(v == "weakref" and t.endswith("# policy: gc_only") for v, _, t in found)
    assert ("gc_only", "dezero/extra.py", "CACHE = []") in found
