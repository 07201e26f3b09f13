"""Reading a priors file's YAML strictly: a safe loader that refuses what could fool or swamp it.

Only the parsing lives here; what the values mean is checked by `forecast.io.priors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from forecast.errors import InputError
from forecast.io.textfiles import decode_text, read_input


@dataclass(frozen=True)
class LongInteger:
    """An integer written with more digits than Python will convert from text (4,300, a guard
    against slow conversions): only its sign and length are kept, which is all a message needs.
    Any number beyond ±1000 is refused anyway."""

    text: str

    @property
    def negative(self) -> bool:
        return self.text.lstrip().startswith("-")

    @property
    def digits(self) -> int:
        return sum(c.isdigit() for c in self.text)

    def __repr__(self) -> str:
        return f"{'a negative' if self.negative else 'an'} integer of {self.digits:,} digits"


def read_yaml(path: Path, folder_files: tuple[str, ...]) -> dict[str, Any]:
    """One priors file as a mapping; `folder_files` names what a priors folder holds, for the
    message when this one is missing."""
    if not path.exists() and not path.is_symlink():
        raise InputError(f"missing priors file (a priors folder holds {', '.join(folder_files)})", path=path)
    text = decode_text(path, read_input(path, "a priors file"))
    try:
        data = yaml.load(text, Loader=PriorsLoader)
    except RecursionError:
        raise InputError("nested too deeply to be priors", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=path, line=line, column=column) from None
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping at the top level", path=path, line=1)
    return data


class PriorsLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter and a little more modern:

    * aliases (`*name`) may not expand the file beyond `MAX_YAML_VALUES` values: a few lines of
      them can stand for billions (and a message that shows such a value would print them all);
    * a key given twice in one mapping is an error, not a silent choice of the last;
    * `8e-2` is a number, as in YAML 1.2 (PyYAML, on YAML 1.1, reads a float without '.' as text);
    * an integer with more digits than Python converts (4,300) is a `LongInteger`, not a ValueError
      out of the parser: validation then refuses it, at its key, like any number out of range.
    """

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | LongInteger:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
            return LongInteger(str(self.construct_scalar(node)))

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.last_alias = self.peek_event()
        return super().compose_node(parent, index)

    def compose_document(self) -> yaml.Node | None:
        self.last_alias = None
        node = super().compose_document()
        if self.last_alias is not None and _expanded_size(node, {}) > MAX_YAML_VALUES:
            alias = self.last_alias
            raise yaml.composer.ComposerError(
                None, None, f"its aliases (such as *{alias.anchor}) expand to more than {MAX_YAML_VALUES:,} values; "
                "priors are a page of numbers: write the values out", alias.start_mark)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the constructor below says so
            if earlier is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in this mapping (also line {earlier})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


MAX_YAML_VALUES = 100_000


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values `node` stands for once every alias is written out (each node counted once)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a node that contains itself counts once, not for ever
        if isinstance(node, yaml.SequenceNode):
            sizes[id(node)] += sum(_expanded_size(child, sizes) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            sizes[id(node)] += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    return sizes[id(node)]


class NoAliasDumper(yaml.SafeDumper):
    """Writes a value shared by two entries out twice: priors are read without aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


PriorsLoader.add_constructor("tag:yaml.org,2002:int", PriorsLoader.construct_yaml_int)
PriorsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))
