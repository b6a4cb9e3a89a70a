"""Reading a user's text file: a size limit, UTF-8 or a one-line reason why not, then YAML or INI.

YAML is loaded with a depth and an expanded-size budget (no alias bombs); INI with interpolation off.
"""
from __future__ import annotations

import configparser
import os
import stat

import yaml

from accel_sim.errors import UserError

# Assumption: the largest description a user writes (accelerator, space, policy, topology) is
# kilobytes; 16 MiB leaves three orders of magnitude and stops a wrong file (an image, a log) early.
MAX_TEXT_BYTES = 16 << 20
# Assumption: our schemas nest at most 5 levels (accelerator buffers.ifmap.size_kib); 64 is ample
# and stays far below Python's recursion limit (1,000), which a 5,000-deep YAML list would exceed.
MAX_YAML_DEPTH = 64
# Nodes after expanding every alias: the largest space we ship has ~100 nodes and a 40,000-rule
# policy ~80,000; 200,000 admits that, while a "billion laughs" file expands to ~10^9 and is refused.
MAX_YAML_NODES = 200_000


def read_bytes(path, what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; UserError naming `what` otherwise."""
    path = os.fspath(path)
    try:
        if os.path.isdir(path):
            raise UserError(f"{what} {path!r} is a directory, not a file")
        if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
            raise UserError(f"{what} {path!r} is not a regular file (a device or a pipe?)")
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as err:
        raise UserError(f"cannot read {what} {path!r}: {err.strerror or err}") from None
    if len(data) > limit:
        raise UserError(f"{what} {path!r} is larger than {limit >> 20} MiB; is it the right file?")
    return data


def decode_text(data: bytes, what: str, label: str) -> str:
    """UTF-8 (a BOM is allowed) to str; UTF-16 and binary files named as such."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{what} {label!r} is UTF-16 text; save it as UTF-8")
    if b"\0" in data:
        raise UserError(f"{what} {label!r} is binary (it holds NUL bytes), not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise UserError(f"{what} {label!r} is not UTF-8 text (byte 0x{data[err.start]:02x} on line {line}); "
                        "save it as UTF-8") from None


def read_text(path, what: str, label: str | None = None, limit: int = MAX_TEXT_BYTES) -> str:
    """The text of `path`: a regular file, at most `limit` bytes, UTF-8."""
    path = os.fspath(path)
    return decode_text(read_bytes(path, what, limit), what, label or path)


# libyaml when PyYAML has it (10x faster on a large file); the pure-Python loader otherwise.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_depth(text: str, label: str) -> None:
    """Refuse collections nested deeper than MAX_YAML_DEPTH, from the event stream (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise UserError(f"{label}: YAML nested deeper than {MAX_YAML_DEPTH} levels "
                                f"(line {event.start_mark.line + 1})")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _expanded_nodes(root) -> int:
    """How many nodes the document has once every alias is expanded (aliases share their node)."""
    sizes: dict[int, int] = {}
    order, stack = [], [root]
    while stack:                       # iterative: children are sized before their parents
        node = stack.pop()
        if id(node) in sizes:
            continue
        sizes[id(node)] = 0
        order.append(node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in node.value for n in pair)
    for node in reversed(order):
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
    return sizes[id(root)]


def parse_yaml(text: str, label: str):
    """Parse YAML text within the depth and size budgets; UserError with line and column."""
    try:
        _check_depth(text, label)
        loader = _LOADER(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            if _expanded_nodes(root) > MAX_YAML_NODES:
                raise UserError(f"{label}: more than {MAX_YAML_NODES:,} YAML nodes once its aliases are expanded; "
                                "write the values out or use a smaller file")
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise UserError(f"{label}: malformed YAML{at}: {problem}") from None


def read_yaml(path, what: str, label: str | None = None):
    """The parsed content of the YAML file `path`; `what` names the kind of file in errors."""
    path = os.fspath(path)
    label = label or path
    return parse_yaml(read_text(path, what, label), label)


def read_ini(path, what: str, label: str | None = None) -> tuple[configparser.ConfigParser, str]:
    """(parser, text) of an INI file such as a SCALE-Sim .cfg; `%(x)s` is taken literally."""
    path = os.fspath(path)
    label = label or os.path.basename(path)
    text = read_text(path, what, label)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=label)
    except configparser.Error as err:
        errors = getattr(err, "errors", None)
        line = errors[0][0] if errors else getattr(err, "lineno", "?")
        why = {"MissingSectionHeaderError": "no [section] header before it",
               "ParsingError": "not a 'key: value' line",
               "DuplicateOptionError": "a key given twice",
               "DuplicateSectionError": "a section given twice"}.get(type(err).__name__, "syntax error")
        raise UserError(f"{label}: line {line}: malformed {what} ({why})") from None
    return parser, text
