"""The lab's notebook on actmax (Keras) and its PyTorch twin run from top to bottom."""

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# Appended to the executed copy only: reads the kernel's final state.
CHECK = """
import json
_layer = model.layers[layer_idx] if hasattr(model, 'layers') else model.l5
_activation = _layer.activation
print('ACTMAX-CHECK ' + json.dumps({
    'layer_idx': int(layer_idx),
    'activation': getattr(_activation, '__name__', type(_activation).__name__),
    'shape': list(img.shape),
    'dtype': str(img.dtype),
    'min': float(img.min()),
    'max': float(img.max()),
    'std': float(img.std()),
    'accuracy': float(score[1]),
    'n_train': int(n_train),
}))
"""


def execute(name: str, tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("ACTMAX_QUICK", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny model: one thread is fastest
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.append(new_code_cell(CHECK))
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return notebook


def state(notebook) -> dict:
    text = "".join(out.get("text", "") for out in notebook.cells[-1].outputs)
    line = next(line for line in text.splitlines() if line.startswith("ACTMAX-CHECK "))
    return json.loads(line.removeprefix("ACTMAX-CHECK "))


def figures(notebook, marker: str) -> int:
    """PNG figures shown by the first code cell whose source contains `marker`."""
    cell = next(c for c in notebook.cells if c.cell_type == "code" and marker in c.source)
    return sum("image/png" in out.get("data", {}) for out in cell.outputs)


@pytest.mark.parametrize("name", ["lab_keras", "lab_torch"])
def test_the_lab_runs_on_actmax_and_shows_its_figures(name, tmp_path, monkeypatch):
    notebook = execute(name, tmp_path, monkeypatch)
    result = state(notebook)
    assert result["n_train"] == 500  # the quick settings were used
    assert result["accuracy"] > 0.3  # trained: far above chance on the quick subset
    assert result["layer_idx"] == 9
    assert result["activation"] in ("linear", "Linear")  # the softmax swap took effect
    assert result["shape"] == [28, 28, 1] and result["dtype"] == "float32"
    assert 0.0 <= result["min"] < result["max"] <= 1.0 and result["std"] > 0.01
    assert figures(notebook, "pl.plot(history") == 1  # the loss curves
    for marker in ("Maximization of output", "tv_weight={}", "best_tv_weight = 0.5"):
        assert figures(notebook, marker) == 1, marker
    confusion = next(c for c in notebook.cells if "confusion_matrix" in c.source)
    assert "array(" in confusion.outputs[0]["data"]["text/plain"]
