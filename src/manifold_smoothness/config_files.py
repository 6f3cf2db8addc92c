"""Config files read strictly: no key set twice, no alias expansion beyond a node budget.

Snakemake reads config.yaml and every --configfile with a loader that keeps the last of two
equal keys without a word (`seeds: [0, 1]` and further down `seeds: [5]` runs seeds [5]) and
expands aliases without limit: nine aliases of nine aliases ... of a list (a "billion laughs")
is a few hundred bytes whose expansion keeps every check that walks the config busy for
minutes. check_config_files reads each file once more, before the config is used, and refuses
both, naming the file, the line and the key. Anchors, aliases and merge keys (`<<: *local`)
within the budget are fine, and a key written next to a merge key overrides the merged one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from manifold_smoothness.config import ConfigError, key_path

# Nodes of a document once its aliases are expanded; the shipped configs have under 1,000.
MAX_NODES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class ConfigFileError(ConfigError):
    """A config file sets a key twice or expands its aliases beyond MAX_NODES."""


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that checks the composed document (a graph in which an alias is one more
    edge to its anchor's node) before building it, so the check costs as much as the text."""

    def compose_document(self) -> Node:
        node = super().compose_document()
        self.expanded_size(node, (), {}, set())
        return node

    def expanded_size(
        self, node: Node, parts: tuple[str | int, ...], sizes: dict[int, int], open_: set[int]
    ) -> int:
        """Nodes of `node` with its aliases expanded, counted once per node (memoised in
        `sizes`), so an alias chain is counted without being expanded. Refuses a key set twice
        in one mapping, an alias inside its own anchor and a size above MAX_NODES."""
        if isinstance(node, ScalarNode):
            return 1
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_:
            raise ConfigFileError(
                f"{self.where(node, parts)} refers to itself through an alias, which expands "
                "without end; write the value out"
            )
        open_.add(id(node))
        size = 1
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                size += self.expanded_size(item, (*parts, index), sizes, open_)
        elif isinstance(node, MappingNode):
            first_line: dict[object, int] = {}
            for key_node, value in node.value:
                key = self.unique_key(key_node, parts, first_line)
                size += self.expanded_size(key_node, parts, sizes, open_)
                size += self.expanded_size(value, (*parts, key), sizes, open_)
        open_.discard(id(node))
        if size > MAX_NODES:
            raise ConfigFileError(
                f"{self.where(node, parts)} expands through its aliases to more than "
                f"{MAX_NODES:,} values, far beyond any study; write the value out or refer to "
                "smaller anchors"
            )
        sizes[id(node)] = size
        return size

    def unique_key(
        self, key_node: Node, parts: tuple[str | int, ...], first_line: dict[object, int]
    ) -> str:
        """The key as written in messages; refuses a key already seen in the same mapping
        (`first_line`: key -> its line). A merge key (`<<`) is not a key of the mapping."""
        if key_node.tag == MERGE_TAG or not isinstance(key_node, ScalarNode):
            return str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
        # the built key, so that 1 and 0x1 (or yes and true) count as equal, as in the dict
        key = self.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in first_line:
            raise ConfigFileError(
                f"{self.where(key_node, (*parts, str(key)))} is set twice (first on line "
                f"{first_line[key]}); YAML keeps the last value without a word, so remove one"
            )
        first_line[key] = line
        return str(key)

    @staticmethod
    def where(node: Node, parts: tuple[str | int, ...]) -> str:
        mark = node.start_mark
        key = key_path(parts) or "(the whole document)"
        return f"config file {mark.name}, line {mark.line + 1}: key '{key}'"


def _unique_pairs(path: Path):
    """A json object_pairs_hook that refuses a key set twice in one object of `path`."""

    def hook(pairs: list[tuple[str, object]]) -> dict:
        keys = [key for key, _ in pairs]
        if twice := sorted({key for key in keys if keys.count(key) > 1}):
            raise ConfigFileError(
                f"config file {path}: keys {twice} are set twice in one object; JSON keeps "
                "the last value without a word, so remove one"
            )
        return dict(pairs)

    return hook


def read_config_file(path: str | Path) -> object:
    """The content of a config file, read as Snakemake reads it (JSON, else YAML), strictly."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs(path))
    except json.JSONDecodeError:
        pass
    with path.open(encoding="utf-8") as stream:  # a stream, so that marks name the file
        return yaml.load(stream, Loader=StrictLoader)


def check_config_files(paths: Iterable[str | Path]) -> None:
    """Read every config file of a run strictly; a missing one is left to Snakemake to report."""
    for path in paths:
        if Path(path).is_file():
            read_config_file(path)
