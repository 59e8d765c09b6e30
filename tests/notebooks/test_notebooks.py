"""The notebooks run end to end, as Jupyter would run them, in their quick mode
(TEXTRNN_NOTEBOOK_BUDGET=tiny: one seed, a few batches, runs written under tmp_path), and show what
they promise: tables and figures, not errors."""

from pathlib import Path

import pytest

from benchmarks.harness.notebooks import BUDGET_ENV, OUT_ENV, execute
from benchmarks.harness.results import MODELS

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """The kernel inherits this environment: the tiny budget, runs under tmp_path, one CPU thread."""
    monkeypatch.setenv(BUDGET_ENV, "tiny")
    monkeypatch.setenv(OUT_ENV, str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path


def outputs(notebook, kind: str) -> list[str]:
    """Every output of a mime type ("image/png", "text/markdown") or stream ("stdout"), in order."""
    found = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == kind:
                found.append(out["text"])
            elif kind in out.get("data", {}):
                found.append(out["data"][kind])
    return found


@pytest.mark.slow
def test_compare_models_notebook(tiny):
    notebook = execute(NOTEBOOKS / "compare_models.ipynb", timeout=600)  # a failing cell raises
    tables = outputs(notebook, "text/markdown")
    summary = next(t for t in tables if "inference texts/s" in t)
    for spec in MODELS.values():
        assert f"| {spec.label} |" in summary
    assert any(t.startswith("| tokens | texts |") for t in tables)  # accuracy by length
    assert any(t.startswith("| text |") for t in tables)  # predictions on new texts
    assert len(outputs(notebook, "image/png")) == 3  # learning curves, confusion matrices, accuracy by length
    assert (tiny / "compare" / "summary.md").is_file()
    assert len(list(tiny.glob("compare/*/seed42/result.json"))) == len(MODELS)


@pytest.mark.slow
def test_sine_notebook(tiny):
    notebook = execute(NOTEBOOKS / "sine.ipynb", timeout=600)
    assert len(outputs(notebook, "image/png")) == 3  # test prediction, 200-step roll-out, whole-range roll-out
    printed = "".join(outputs(notebook, "stdout"))
    assert "test RMSE:" in printed and "rollout RMSE:" in printed
    assert list(tiny.glob("sine_lstm/version_0/sine_rollout.png"))


def test_committed_notebooks_carry_no_tiny_outputs():
    """Outputs are committed only from full runs (python -m benchmarks.harness.notebooks); never a smoke test's."""
    import nbformat

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        text = "".join(outputs(notebook, "stdout"))
        assert "budget: tiny" not in text, f"{path.name} was saved after a tiny run; clear or re-execute it"


def test_saved_outputs_keep_stdout_and_figures_without_paths_escapes_or_stderr(tmp_path):
    from benchmarks.harness.notebooks import clean_outputs

    root = tmp_path / "clone"
    notebook = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "stream", "name": "stderr", "text": "Tip: try installing litlogger\n"},
        {"output_type": "stream", "name": "stdout", "text": [f"runs in: {root}/runs\n", "\x1b[1mRMSE\x1b[0m 0.0002\n"]},
        {"output_type": "execute_result", "data": {"text/plain": f"'{root}'", "image/png": "iVBOR"}},
        {"output_type": "error", "ename": "ValueError", "evalue": "kept", "traceback": []},
    ]}, {"cell_type": "markdown", "source": "text"}]}
    cleaned = clean_outputs(notebook, root)["cells"][0]["outputs"]
    assert [o["output_type"] for o in cleaned] == ["stream", "execute_result", "error"]
    assert cleaned[0]["text"] == "runs in: runs\nRMSE 0.0002\n"
    assert cleaned[1]["data"] == {"text/plain": "'.'", "image/png": "iVBOR"}
