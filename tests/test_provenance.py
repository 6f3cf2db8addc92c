"""The rerun hash of a rule follows its script's imports, transitively, from the source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from manifold_smoothness.provenance import code_files, code_hash

ROOT = Path(__file__).resolve().parents[1]


def make_package(src: Path, files: dict[str, str]) -> None:
    """A fake manifold_smoothness package under src/ with the given module sources."""
    for name, text in files.items():
        path = src / "manifold_smoothness" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    make_package(
        tmp_path / "src",
        {
            "__init__.py": "",
            "leaf.py": "X = 1\n",
            "middle.py": "from manifold_smoothness import leaf\n",
            "lazy.py": "def f():\n    from manifold_smoothness.middle import leaf\n",
            "unrelated.py": "Y = 2\n",
            "sub/__init__.py": "",
            "sub/child.py": "from .. import leaf\n",
        },
    )
    (tmp_path / "top.py").write_text("import numpy\nfrom manifold_smoothness import lazy\n")
    (tmp_path / "rel.py").write_text("import manifold_smoothness.sub.child\n")
    return tmp_path


def names(files: list[Path], root: Path) -> list[str]:
    return [f.relative_to(root).as_posix() for f in files]


def test_imports_inside_functions_are_followed_transitively(workflow):
    files = names(code_files(workflow / "top.py", workflow / "src"), workflow)
    package = "src/manifold_smoothness"
    assert files == sorted(
        [
            "top.py",
            f"{package}/__init__.py",
            f"{package}/lazy.py",
            f"{package}/middle.py",
            f"{package}/leaf.py",
        ]
    )


def test_subpackages_bring_their_init_and_relative_imports_resolve(workflow):
    files = names(code_files(workflow / "rel.py", workflow / "src"), workflow)
    assert "src/manifold_smoothness/sub/__init__.py" in files
    assert "src/manifold_smoothness/leaf.py" in files  # via `from .. import leaf`
    assert "src/manifold_smoothness/middle.py" not in files


def test_editing_an_indirect_import_changes_the_hash(workflow):
    before = code_hash(workflow / "top.py", src=workflow / "src")
    leaf = workflow / "src" / "manifold_smoothness" / "leaf.py"
    leaf.write_text("X = 2\n")
    assert code_hash(workflow / "top.py", src=workflow / "src") != before


def test_editing_an_unrelated_module_keeps_the_hash(workflow):
    before = code_hash(workflow / "top.py", src=workflow / "src")
    (workflow / "src" / "manifold_smoothness" / "unrelated.py").write_text("Y = 3\n")
    assert code_hash(workflow / "top.py", src=workflow / "src") == before


def test_a_missing_script_is_an_error(workflow):
    with pytest.raises(FileNotFoundError, match="nothing.py"):
        code_files(workflow / "nothing.py", workflow / "src")


def rule_blocks() -> dict[str, str]:
    """Rule name -> its text; rules generated in a loop are named by their `name:` pattern
    (e.g. 'plot_{figure}', 'record_activations_{attack}')."""
    blocks = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [m.start() for m in re.finditer(r"^(?:rule \w+:|    rule:)", text, re.M)]
        for start, end in zip(starts, [*starts[1:], len(text)][: len(starts)], strict=True):
            block = text[start:end]
            name = re.match(r"rule (\w+):", block.strip()) or re.search(
                r'name:\s+f"([\w{}]+)"', block
            )
            blocks[name.group(1)] = block
    return blocks


def test_every_rule_that_runs_code_names_its_stage_script_and_hashes_it():
    """stage_script("x") and stage_code("x") name the same stage, its script exists and calls
    the stage function of the same name in manifold_smoothness.stages.x."""
    runs_code = 0
    for rule, block in rule_blocks().items():
        scripts = re.findall(r'stage_script\("(\w+)"\)', block)
        if not scripts:
            continue
        runs_code += 1
        if scripts == ["plot_figure"]:  # the stage and the figure's module, imported by name
            assert "code=figure_code(spec)" in block, rule
        else:
            assert re.findall(r'stage_code\("(\w+)"\)', block) == scripts, rule
        (stage,) = scripts
        script = (ROOT / "rules" / "scripts" / f"{stage}.py").read_text()
        assert f"from manifold_smoothness.stages.{stage} import {stage}\n" in script, rule
        assert f"run(snakemake, {stage}" in script, rule
        assert (ROOT / "src" / "manifold_smoothness" / "stages" / f"{stage}.py").is_file()
        assert rule == stage or rule.startswith(f"{stage}_{{") or rule == "plot_{figure}"
    assert runs_code >= 11


def test_logs_and_benchmarks_are_named_after_their_rule():
    for rule, block in rule_blocks().items():
        for kind in ("log_path", "benchmark_path"):
            found = re.findall(rf'{kind}\(f?"([^"]+)"', block)
            assert found == ([rule] if found else []), (rule, kind, found)
            never_runs = kind == "benchmark_path" and rule.startswith("refuse_")
            assert found or never_runs or re.fullmatch(r"all|train|summarize|figures|claims", rule)
