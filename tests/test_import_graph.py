"""The shape of the code, checked from its source with `ast` (nothing imported).

* no import cycles among the modules of `heads` and `pipeline` (imports
  inside functions count: a lazy import that dodges a cycle is still one);
* `heads` never imports `apache_beam`, `pipeline` or `headeval`;
* no module uses a private name (`_x`) of another of our modules, by
  `from m import _x` or by `m._x`;
* imports point down the layers: the user interfaces (the command and the
  Python API, `headeval`), then the run, the
  report, the stages, the inputs, and `heads` at the bottom.
"""
import ast
import os

import pytest

from tests.support import REPO

PACKAGES = ("heads", "pipeline", "headeval")

# Lower layers never import higher ones (a module may import its own layer).
LAYERS = [
    ("heads",),
    ("pipeline.errors",),
    # What a path is (standard library only) and files on any Beam
    # filesystem: no stage of the pipeline, used by everything above,
    # the config (a config or vocabulary file on gs://) included; and the
    # report's layout (file names and columns), which stages write into.
    ("pipeline.io.paths", "pipeline.io.files", "pipeline.report.schema",
     "pipeline.report.names"),
    ("pipeline.runtime", "pipeline.config"),
    ("pipeline.io",),
    ("pipeline.model", "pipeline.evaluate"),
    ("pipeline.report",),
    ("pipeline.run",),
    ("pipeline.demo",),
    # The user interfaces: the command, and the Python API (headeval/).
    ("pipeline.cli", "pipeline.__main__", "headeval"),
]


def _modules():
    """{dotted module name: path} of every module under PACKAGES."""
    out = {}
    for package in PACKAGES:
        for root, dirs, files in os.walk(os.path.join(REPO, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    rel = os.path.relpath(os.path.join(root, name), REPO)[:-3]
                    parts = rel.split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    out[".".join(parts)] = os.path.join(root, name)
    return out


MODULES = _modules()


def _resolve(module, level, name, is_package):
    """The absolute name of a (possibly relative) import in `module`."""
    if level == 0:
        return name
    base = module.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([name] if name else []))


def _imports(module):
    """[(imported module, private names taken from it, line)] of one module:
    every import statement, at any depth, and every `alias._x` attribute
    read of an imported module of ours."""
    path = MODULES[module]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    is_package = path.endswith("__init__.py")
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                found.append((a.name, [], node.lineno))
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    aliases.setdefault(a.name.split(".")[0], a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node.level, node.module, is_package)
            private, names = [], 0
            for a in node.names:
                sub = "%s.%s" % (target, a.name)
                if sub in MODULES:  # `from package import module`: that module
                    found.append((sub, [], node.lineno))
                    aliases[a.asname or a.name] = sub
                    continue
                names += 1
                if a.name.startswith("_"):
                    private.append(a.name)
            if names:
                found.append((target, private, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in aliases:
                dotted = ".".join([aliases[value.id]] + chain[:0:-1])
                if dotted in MODULES:
                    found.append((dotted, [node.attr], node.lineno))
    return found


def _ours(name):
    """`name` as a module of ours (a `from m import f` names m), or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {m: sorted({_ours(t) for t, _, _ in _imports(m) if _ours(t) and _ours(t) != m})
         for m in MODULES}


def test_the_walk_finds_the_code():
    assert "heads.base" in MODULES and "pipeline.cli" in MODULES and len(MODULES) > 30
    assert "pipeline.report.output" in GRAPH["pipeline.run"]


def _cycles():
    """Every strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles() == []


def test_heads_never_imports_beam_or_pipeline():
    assert "headeval.api" in MODULES and "headeval" in MODULES
    bad = [(m, t, line) for m in MODULES if m.split(".")[0] == "heads"
           for t, _, line in _imports(m)
           if t.split(".")[0] in ("apache_beam", "pipeline", "headeval")]
    assert bad == []


def test_no_private_names_of_other_modules():
    bad = [(m, t, names, line) for m in MODULES for t, names, line in _imports(m)
           if names and _ours(t) and _ours(t) != m]
    assert bad == []


def _layer(module):
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "pipeline"))
def test_imports_point_down_the_layers(module):
    assert _layer(module) is not None, "%s is in no layer of LAYERS" % module
    upward = [t for t in GRAPH[module] if t != "pipeline" and _layer(t) > _layer(module)]
    assert upward == [], "%s (layer %d) imports higher layers: %s" % (
        module, _layer(module), upward)


def test_the_checks_catch_what_they_look_for(monkeypatch):
    """The cycle finder and the layer rule on a made-up graph: a test that
    cannot fail proves nothing."""
    monkeypatch.setitem(GRAPH, "heads.base", GRAPH["heads.base"] + ["pipeline.cli"])
    assert any("heads.base" in c and "pipeline.cli" in c for c in _cycles())
    assert _layer("pipeline.cli") > _layer("heads.base")
