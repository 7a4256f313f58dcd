"""The type stubs (.pyi) ship with the package and match what it exports: every public name
and member of the package is in a stub, and every name in a stub exists."""
import ast
import importlib
import inspect
from pathlib import Path

import pytest

MODULES = ["ferry", "ferry._ferry", "ferry.nd", "ferry.graph_executor", "ferry.rpc"]


def stub_path(ferry, module_name):
    package_dir = Path(ferry.__file__).parent
    parts = module_name.split(".")[1:]
    return package_dir / ("__init__.pyi" if not parts else parts[0] + ".pyi")


def stub_names(path):
    """{name: set of member names (for classes) or None} of the top level of a stub."""
    tree = ast.parse(path.read_text())
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                # Annotated attributes are instance attributes: not checked on the class.
            names[node.name] = members
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = None
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:  # PEP 484: only `import X as X` re-exports X
                if alias.asname == alias.name:
                    names[alias.asname] = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = None
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = None
    return names


def public(names):
    return {n for n in names if not n.startswith("_")}


def load(module_name):
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        pytest.fail("%s does not import: %s" % (module_name, e))


def test_py_typed_ships(ferry):
    assert (Path(ferry.__file__).parent / "py.typed").exists()


@pytest.mark.parametrize("module_name", MODULES)
def test_stub_matches_module(ferry, module_name):
    module = load(module_name)
    path = stub_path(ferry, module_name)
    assert path.exists(), "%s has no stub %s" % (module_name, path.name)
    stubs = stub_names(path)
    exported = set(getattr(module, "__all__", None) or public(vars(module)))
    # Modules the package imports for itself are not its API.
    exported = {n for n in exported if not inspect.ismodule(getattr(module, n, None))
                or n in ("nd", "graph_executor", "rpc")}
    exported -= {"annotations"}
    missing_in_stub = sorted(n for n in exported if n not in stubs)
    assert not missing_in_stub, "%s exports names its stub lacks: %s" % (module_name,
                                                                         missing_in_stub)
    missing_in_module = sorted(n for n in public(stubs) if not hasattr(module, n))
    assert not missing_in_module, "%s.pyi names what the module lacks: %s" % (
        module_name, missing_in_module)


@pytest.mark.parametrize("module_name", MODULES)
def test_stub_class_members(ferry, module_name):
    module = load(module_name)
    for name, members in stub_names(stub_path(ferry, module_name)).items():
        if members is None or not hasattr(module, name):
            continue
        cls = getattr(module, name)
        if not inspect.isclass(cls) or issubclass(cls, BaseException):
            continue
        actual = {m for m in dir(cls) if not m.startswith("_")}
        lacking = sorted(m for m in public(members) if m not in actual)
        assert not lacking, "stub of %s.%s names members it lacks: %s" % (module_name, name,
                                                                           lacking)
        # Members inherited from a base class are checked on that class.
        inherited = set().union(*(dir(base) for base in cls.__mro__[1:]))
        unstubbed = sorted(actual - inherited - public(members))
        assert not unstubbed, "%s.%s has members its stub lacks: %s" % (module_name, name,
                                                                         unstubbed)
