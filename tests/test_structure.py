"""The package's layering (docs/design.md): no import cycles, no upward imports, no file over 300 lines."""
import importlib.util
import subprocess
import sys

from _shared import REPO

SCRIPT = REPO / "scripts" / "import_graph.py"


def _module():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_import_graph_is_layered_and_acyclic():
    res = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    for line in ("module cycles: 0", "layer cycles: 0", "upward imports (against LAYERS): 0",
                 "files over 300 lines: 0"):
        assert line in res.stdout, res.stdout


def test_cycle_finder_reports_each_cycle_once():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}, "g": set()}
    assert sorted(_module().cycles(graph)) == [["a", "b", "c"], ["e", "f"]]


def test_every_subpackage_has_a_layer():
    mod = _module()
    subpackages = {p.name for p in (REPO / "sscma_rtmdet").iterdir()
                   if p.is_dir() and (p / "__init__.py").is_file()}  # configs/, pretrained/: package data
    top = {p.stem for p in (REPO / "sscma_rtmdet").glob("*.py") if p.stem != "__init__"}
    assert subpackages | top <= set(mod.LAYERS), sorted((subpackages | top) - set(mod.LAYERS))
