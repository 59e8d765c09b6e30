"""What the notebooks in ``notebooks/`` share: their budget from the environment, a helper for the sine
notebook, and a runner that executes them with nbclient (no nbconvert needed).

``TEXTRNN_NOTEBOOK_BUDGET=full`` (the default) trains with the configs' own budgets and writes under
``runs/`` (the comparison under ``runs/compare``, where ``python benchmarks/compare.py`` left its runs,
which are reused). ``TEXTRNN_NOTEBOOK_BUDGET=tiny`` is a smoke test: one seed, a few batches, and a
throw-away folder. ``TEXTRNN_NOTEBOOK_OUT`` replaces ``runs/`` (tiny: the new temporary folder).

Execute notebooks and save their outputs (what the committed notebooks should hold)::

    python -m benchmarks.harness.notebooks notebooks/compare_models.ipynb notebooks/sine.ipynb   # from the clone's root

``--budget tiny`` runs them quickly and never saves; ``--no-save`` leaves the files as they are. Executing needs
nbclient, nbformat and ipykernel (the ``test`` extra: ``pip install -e ".[test]"``); nbconvert is not needed.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from benchmarks.harness.results import DEFAULT_SEEDS, REPO, TINY_BUDGET, Budget

BUDGET_ENV = "TEXTRNN_NOTEBOOK_BUDGET"
OUT_ENV = "TEXTRNN_NOTEBOOK_OUT"
NOTEBOOK_DIR = REPO / "notebooks"


@dataclass(frozen=True)
class NotebookSettings:
    """What the notebooks run.

    Attributes:
        budget: "full" or "tiny".
        out: the root of the notebooks' runs: ``runs/`` for full, a temporary folder for tiny.
        compare_out: the comparison's folder (full: ``runs/compare``, shared with benchmarks/compare.py).
        seeds: the comparison's seeds.
        trainer: the comparison's trainer limits (none for full).
        sine_args: extra ``textrnn fit`` arguments for the sine notebook (none for full).
    """

    budget: str
    out: Path
    seeds: tuple[int, ...]
    trainer: Budget
    sine_args: tuple[str, ...] = ()

    @property
    def compare_out(self) -> Path:
        return self.out / "compare"


def notebook_settings(environ: Optional[dict[str, str]] = None) -> NotebookSettings:
    """The settings ``TEXTRNN_NOTEBOOK_BUDGET`` (``full`` by default, or ``tiny``) asks for."""
    environ = os.environ if environ is None else environ
    budget = environ.get(BUDGET_ENV, "").strip().lower() or "full"
    if budget == "full":
        return NotebookSettings("full", Path(environ.get(OUT_ENV) or REPO / "runs"), DEFAULT_SEEDS, Budget())
    if budget == "tiny":
        out = Path(environ.get(OUT_ENV) or tempfile.mkdtemp(prefix="textrnn_notebook_"))
        sine = ("--trainer.max_steps", "60", "--trainer.val_check_interval", "20", "--trainer.limit_val_batches", "1")
        return NotebookSettings("tiny", out, (DEFAULT_SEEDS[0],), TINY_BUDGET, sine)
    raise ValueError(f"{BUDGET_ENV} must be 'full' or 'tiny', got {budget!r}")


def sine_rollout(model: Any, data: Any, steps: Optional[int] = None) -> dict[str, Any]:
    """A trained `SineRNN` over the test range of its `SineDataModule`, as numpy arrays for plotting.

    Returns:
        ``x`` (the x of each target), ``truth``, ``one_step`` (each value predicted from the true window
        before it) and ``rollout`` (``steps`` values from the first test window alone, each prediction
        fed back as input; default: the whole test range).
    """
    import torch

    windows, truth = data.datasets["test"].tensors  # (N, window), (N,)
    steps = len(truth) if steps is None else min(steps, len(truth))
    model.eval()
    with torch.no_grad():
        one_step = model.step(windows.to(model.device)).cpu()  # (N,)
        rollout = model(windows[:1].to(model.device), future=steps - 1)[0].cpu()  # (steps,)
    return {"x": data.target_x("test"), "truth": truth.numpy(), "one_step": one_step.numpy(),
            "rollout": rollout.numpy()}


def execute(path: Union[str, Path], timeout: Optional[int] = None, save: bool = False) -> Any:
    """Run every cell of a notebook in a fresh kernel, in the notebook's folder, as Jupyter would.

    Args:
        path: the ``.ipynb`` file.
        timeout: the most seconds one cell may take (None: no limit; a full comparison cell that has to
            train everything runs for half an hour or more).
        save: write the executed notebook (with its outputs) back to ``path``.

    Returns:
        The executed notebook (an nbformat NotebookNode). A failing cell raises
        ``nbclient.exceptions.CellExecutionError`` with its traceback.
    """
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as err:
        raise ImportError(f"executing notebooks needs nbclient, nbformat and ipykernel: pip install -e '.[test]' "
                          f"({err})") from err

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    client.execute()
    if save:
        nbformat.write(clean_outputs(notebook, REPO), path)
    return notebook


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean_outputs(notebook: Any, root: Union[str, Path]) -> Any:
    """What a saved notebook should show a reader: its stdout, results and figures, with paths relative to
    the clone (``root``) and no terminal escape codes. Streams to stderr (library warnings, Lightning's
    log lines and its advertisement) are dropped; errors are kept. Changes ``notebook`` in place."""
    prefix = str(Path(root).resolve())

    def clean(text: str) -> str:
        return ANSI.sub("", text).replace(prefix + "/", "").replace(prefix, ".")

    for cell in notebook.get("cells", []):
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                continue
            if "text" in output:
                output["text"] = clean("".join(output["text"]))
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/"):
                    output["data"][kind] = clean("".join(value))
            kept.append(output)
        if "outputs" in cell:
            cell["outputs"] = kept
    return notebook


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        default=[NOTEBOOK_DIR / "compare_models.ipynb", NOTEBOOK_DIR / "sine.ipynb"])
    parser.add_argument("--budget", choices=["full", "tiny"],
                        help=f"sets {BUDGET_ENV} for the kernels (tiny: executed, never saved)")
    parser.add_argument("--no-save", action="store_true", help="execute only; leave the files unchanged")
    parser.add_argument("--timeout", type=int, help="the most seconds one cell may take (default: no limit)")
    args = parser.parse_args(argv)
    if args.budget:
        os.environ[BUDGET_ENV] = args.budget  # the kernels inherit this process's environment
    full = os.environ.get(BUDGET_ENV, "").strip().lower() in ("", "full")
    save = full and not args.no_save  # a smoke test's outputs are never kept
    for path in args.notebooks:
        start = time.perf_counter()
        execute(path, args.timeout, save=save)
        print(f"{path}: executed in {time.perf_counter() - start:.0f} s, " + ("saved" if save else "not saved"))


if __name__ == "__main__":
    main()
