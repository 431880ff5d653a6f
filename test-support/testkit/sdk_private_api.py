"""Checks a plugin's sdk_compat.PRIVATE_API against the installed singer-sdk (shared by the tap's and the
target's tests): each entry must still exist, and methods must keep the parameters the plugin relies on."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path


def resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def parameters(function) -> list[tuple[str, str, object]]:
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(function).parameters.values()]


def class_attribute_or_annotation(cls: type, name: str) -> bool:
    """A method or class attribute, or an instance attribute the class (or a base) assigns in its source."""
    if hasattr(cls, name):
        return True
    for base in cls.__mro__:
        try:
            source = inspect.getsource(base)
        except (OSError, TypeError):
            continue
        if re.search(rf"self\.{re.escape(name)}\s*(:[^=\n]*)?=", source):
            return True
    return False


def private_uses(package_dir: Path, names: set[str], allowed: set[str]) -> list[str]:
    """``file:line`` of every use of an SDK-private name, or import of a private SDK module, outside ``allowed``."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        if path.name in allowed:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in names:
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.FunctionDef) and node.name in names:
                found.append(f"{path.name}:{node.lineno} def {node.name}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                if any(part.startswith("_") for part in node.module.split(".")):
                    found.append(f"{path.name}:{node.lineno} from {node.module}")
    return found


def private_member_problem(owner: str, name: str, why: str, signatures: dict[str, list]) -> str | None:
    """What changed about one private SDK member a plugin's sdk_compat.py relies on, or None."""
    cls = resolve(owner)
    if not class_attribute_or_annotation(cls, name):
        return f"{owner}.{name} is gone ({why}): update sdk_compat.py"
    if name in signatures and parameters(getattr(cls, name)) != signatures[name]:
        return f"{owner}.{name} changed: update sdk_compat.py"
    return None
