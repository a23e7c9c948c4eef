"""Package boundaries and one definition per setting: checks that the structure stays as documented
(docs/ARCHITECTURE.md)."""

import ast
import json
import os
import subprocess
import sys

from cf_tf.config import DEMO_MODEL
from conftest import REPO

ENTRY_POINTS = {"train", "evaluate", "export", "predict", "benchmark", "device_check", "keep", "show", "summary"}


def _modules_in_a_fresh_interpreter(package):
    code = f"import sys, {package}, pkgutil, importlib\n" \
           f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n" \
           f"    importlib.import_module(m.name)\n" \
           f"print(' '.join(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stdout.split())


def test_cf_tf_never_imports_data_prep():
    """data_prep's tools use cf_tf; cf_tf (every module of it) never needs data_prep."""
    loaded = _modules_in_a_fresh_interpreter("cf_tf")
    assert "cf_tf.training" in loaded and "cf_tf.postprocess.decode" in loaded
    assert not any(m == "data_prep" or m.startswith("data_prep.") for m in loaded)


def _cf_tf_imports(path):
    tree = ast.parse(open(path).read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cf_tf"):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("cf_tf"))
    return names


def _library_modules():
    root = os.path.join(REPO, "cf_tf")
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), REPO)[:-3].replace(os.sep, ".")
                if rel.split(".")[-1] not in ENTRY_POINTS | {"flags"} or rel.count(".") > 1:
                    yield rel, os.path.join(folder, f)


def test_library_modules_import_no_entry_point_and_no_flags():
    forbidden = {f"cf_tf.{m}" for m in ENTRY_POINTS | {"flags"}}
    offenders = {mod: sorted(_cf_tf_imports(path) & forbidden) for mod, path in _library_modules()}
    assert not {k: v for k, v in offenders.items() if v}


def test_importing_a_command_defines_no_flag():
    """Flags are defined only by the program that runs, so each command has only its own. One fresh
    interpreter imports the commands one after another: after each, none of the flags it declares (its
    groups of flag specs and cf_tf.flags') is defined."""
    code = (f"import importlib, json, cf_tf.flags as f; from absl import flags\n"
            f"out = {{}}\n"
            f"for command in {sorted(ENTRY_POINTS)!r}:\n"
            f"    c = importlib.import_module('cf_tf.' + command)\n"
            f"    groups = [v for m in (c, f) for v in vars(m).values() if isinstance(v, tuple) and v and "
            f"isinstance(v[0], tuple) and len(v[0]) == 5]\n"
            f"    names = {{spec[1] for g in groups for spec in g}}\n"
            f"    out[command] = [len(names), sorted(names & set(flags.FLAGS))]\n"
            f"print(json.dumps(out))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(found) == ENTRY_POINTS
    assert all(count > 10 for count, _ in found.values()), found
    assert {command: defined for command, (_, defined) in found.items() if defined} == {}


def test_the_demo_flagfile_trains_the_demo_model():
    lines = [line.strip()[2:] for line in open(os.path.join(REPO, "experiments", "tiny.flags")) if line.startswith("--")]
    flags = dict(line.split("=", 1) if "=" in line else (line, "true") for line in lines)
    assert flags["backbone"] == DEMO_MODEL.backbone
    assert (flags.get("antialias") == "true") == DEMO_MODEL.antialias
    assert (flags.get("antialias_stem") == "true") == DEMO_MODEL.antialias_stem
    assert (flags.get("offset_separable") == "true") == DEMO_MODEL.offset_separable
    assert int(flags["fusion_width"]) == DEMO_MODEL.fusion_width
    assert int(flags["head_units"]) == DEMO_MODEL.head_units
