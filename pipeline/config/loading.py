"""Reading a config file: its text, then YAML parsed strictly, then the
validating parser (pipeline.config.parser).

Strict, because YAML's safe loader is lenient where a config must not be:
a key written twice silently keeps the last value, and a document of a
few hundred bytes can expand through aliases to gigabytes. Every failure
is one ConfigError line naming the file.
"""
import math
import os
import posixpath
from typing import Union

import yaml

from pipeline.config.files import read_text
from pipeline.config.limits import MAX_YAML_NODES, clip, show_value
from pipeline.config.parser import parse_config
from pipeline.config.spec import Config
from pipeline.errors import ConfigError
from pipeline.io.paths import is_local, local_path


class _StrictLoader(yaml.SafeLoader):
    """safe_load, but a key given twice is an error, not a silent overwrite,
    and a document of more than MAX_YAML_NODES nodes, aliases expanded, is
    refused before it is built (a 'billion laughs' document of a few
    hundred bytes would otherwise expand to gigabytes)."""

    def construct_document(self, node):
        size = _expanded_size(node)
        if size > MAX_YAML_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, "the document expands to more than %d YAML nodes (aliases "
                "expanded, or an alias inside its own anchor); a config needs far fewer"
                % MAX_YAML_NODES,
                node.start_mark)
        return super().construct_document(node)


def _expanded_size(root):
    """Nodes of a composed YAML graph with every alias expanded, counted
    without expanding them (each node once, its size memoized), so a bomb
    costs its own size to measure. Iterative: a deep document needs no
    recursion here."""
    sizes, open_nodes = {}, set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        if not done and id(node) in open_nodes:  # an alias inside its own anchor
            return math.inf
        open_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
            open_nodes.discard(id(node))
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader, node, deep=False):
    """A key written twice in one mapping is refused. Keys that a `<<`
    merge brings in are not the mapping's own: the mapping's own keys
    override them, as YAML's merge-key rule says."""
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "key %s appears twice (first on line %d)"
                % (show_value(key), seen[key] + 1), key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_config(path: Union[str, os.PathLike]) -> Config:
    """Reads and validates a YAML config file (a path, local or on any
    filesystem Beam knows). Raises ConfigError."""
    data, file, base_dir = load_config_data(path)
    return parse_config(data, file=file, base_dir=base_dir)


def load_config_data(path: Union[str, os.PathLike]) -> tuple:
    """(YAML data, file name for messages, folder of relative paths) of a
    config file, strictly loaded but not validated (`headeval check` takes
    its `validation:` alone). Raises ConfigError."""
    path = str(path)
    try:
        text = read_text(path)
    except (OSError, IOError) as e:
        raise ConfigError("%s: cannot read the config file: %s" % (path, clip(e)), path) from e
    except UnicodeDecodeError as e:
        raise ConfigError("%s: the config file is not UTF-8 text: %s" % (path, clip(e)),
                          path) from e
    if is_local(path):
        file = os.path.abspath(local_path(path))
        base_dir = os.path.dirname(file)
    else:
        file, base_dir = path, posixpath.dirname(path)
    return _yaml(text, path), file, base_dir


def load_config_text(text: str, source: str = "<config>", base_dir: str | None = None) -> Config:
    """Validates a config given as YAML text (`source` names it in
    messages; relative paths resolve against `base_dir`). Raises ConfigError."""
    return _load_text(text, source, source, base_dir)


def _load_text(text, path, file, base_dir):
    """YAML text -> Config; `path` names it in YAML errors, `file` after."""
    return parse_config(_yaml(text, path), file=file, base_dir=base_dir)


def _yaml(text, path):
    """YAML text -> data, strictly; ConfigError naming `path`."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as e:
        # One line: PyYAML's message spreads the context and its snippet over several.
        raise ConfigError("%s: not valid YAML: %s" % (path, clip(" ".join(str(e).split()), 600)),
                          path) from e
    except (ValueError, RecursionError) as e:  # an int past Python's digit limit; deep nesting
        raise ConfigError("%s: not a config YAML can load: %s" % (
            path, clip(e) if isinstance(e, ValueError) else "it is nested too deeply"),
            path) from e
