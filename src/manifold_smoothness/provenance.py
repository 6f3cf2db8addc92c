"""Which code a job runs, derived from the source: the rerun hash of every rule.

A rule's `script:` imports a stage module, which imports library modules, often inside
functions (stages import lazily to keep job start-up short). `code_files` follows every import
statement of the package transitively, wherever it stands in a file, from the source text at
parse time: nothing runs and nothing is listed by hand, so the list cannot go stale. Following
imports inside functions can only over-approximate what a job runs, so an edit reruns at worst
a few jobs too many, never too few.

The hash goes into the rule's `params`, so Snakemake's params trigger reruns exactly the jobs
whose code changed, and into the training checkpoint's fingerprint, so a rerun never resumes a
checkpoint written by other code.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "manifold_smoothness"


def _module_path(src: Path, dotted: str) -> Path | None:
    """The file of a module or package of `src` (a directory holding the package), or None."""
    base = src.joinpath(*dotted.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _with_parents(dotted: str) -> list[str]:
    """'a.b.c' -> ['a', 'a.b', 'a.b.c']: importing a module runs its packages' __init__ first."""
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _current_package(src: Path, file: Path) -> str:
    """Dotted package that holds `file` (for relative imports); '' outside `src`."""
    try:
        parts = file.resolve().relative_to(src.resolve()).with_suffix("").parts
    except ValueError:
        return ""
    return ".".join(parts if file.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")


@cache
def imported_modules(src: Path, file: Path) -> frozenset[str]:
    """Dotted names of the package's modules that `file` imports anywhere in its source."""
    tree = ast.parse(file.read_bytes(), filename=str(file))
    names: set[str] = set()
    package = _current_package(src, file)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            # `from pkg import name` imports the submodule pkg.name when there is one
            names.update(f"{module}.{alias.name}" for alias in node.names)
    found = set()
    for name in names:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            found.update(m for m in _with_parents(name) if _module_path(src, m) is not None)
    return frozenset(found)


def code_files(script: str | Path, src: str | Path) -> list[Path]:
    """`script` and every package file it imports, transitively, sorted.

    `src` is the directory that holds the package (the workflow's src/)."""
    src, script = Path(src).resolve(), Path(script).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"script {script} does not exist")
    seen: dict[str, Path] = {}
    todo = [script]
    files = {script}
    while todo:
        for module in imported_modules(src, todo.pop()):
            if module not in seen:
                path = _module_path(src, module)
                seen[module] = path
                files.add(path)
                todo.append(path)
    return sorted(files)


def code_hash(*scripts: str | Path, src: str | Path) -> str:
    """sha256 (16 hex digits) of the files the scripts run: their text and relative names."""
    src = Path(src).resolve()
    root = src.parent
    digest = hashlib.sha256()
    files = sorted({f for script in scripts for f in code_files(script, src)})
    for file in files:
        name = file.relative_to(root) if file.is_relative_to(root) else Path(file.name)
        digest.update(str(name.as_posix()).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
