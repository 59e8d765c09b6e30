"""``textrnn classify``: label raw texts with a trained checkpoint, from the command line.

    textrnn classify --ckpt_path best.ckpt --text "The striker scored a late goal."
    textrnn classify --ckpt_path best.ckpt --input news.csv --output labelled.csv

Input is one string (``--text``) or a file (``--input``): ``.txt`` (one text per line), ``.csv`` or
``.jsonl`` (one JSON object per line), the last two with a text column (``--text_column``). Output
(``--output``) is CSV or JSONL, chosen by extension, one row per input text in input order, with the
columns ``index``, ``text``, ``label``, ``confidence`` and one ``prob_<class>`` per class (the same rows
``textrnn predict --output`` writes). The output is never an input file, an existing file is replaced
only with ``--overwrite``, and it is written atomically (`textrnn.files`). Without ``--output`` a table
is printed, control characters escaped. The model is rebuilt from the checkpoint alone (`textrnn.load`):
no config, data or network.

A multi-label model's rows carry ``labels`` too, the label set chosen (``|``-joined in CSV, a list in
JSONL): the labels at or above the checkpoint's per-label thresholds, or ``--threshold`` for all labels,
or the ``--top_k`` most probable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from textrnn.cli.subcommand import run_subcommand
from textrnn.files import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    check_output,
    prediction_columns,
    prediction_rows,
    printable,
    read_texts,
    write_rows,
)

if TYPE_CHECKING:  # textrnn.inference.classifier imports torch: load it only once the arguments are good
    from textrnn.inference.classifier import Prediction

PREVIEW_CHARS = 60  # text shown per row of the printed table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textrnn classify",
        description="Classify raw texts with a trained textrnn checkpoint.",
    )
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `textrnn fit` (.ckpt)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one text to classify")
    source.add_argument("--input", help=f"a file of texts: {', '.join(INPUT_FORMATS)}")
    parser.add_argument("--output", help=f"write the predictions here: {', '.join(OUTPUT_FORMATS)} (default: print)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists (default: refuse)")
    parser.add_argument("--text_column", default="text", help="the text column of a .csv or .jsonl input")
    parser.add_argument("--batch_size", type=int, default=64, help="texts per forward pass")
    parser.add_argument("--device", default=None, help="'cpu', 'cuda', 'cuda:1', ... (default: cuda if available)")
    parser.add_argument("--top_k", type=int, default=None,
                        help="choose the k most probable labels (default: a multi-label model's stored thresholds)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="multi-label: one threshold for every label instead of the stored per-label ones")
    return parser


def _preview(text: str) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
    return escape(printable(text))


def _name(name: str) -> str:
    return escape(printable(name))


def show(console: Console, texts: Sequence[str], predictions: Sequence[Prediction], label_names: Sequence[str],
         multi_label: bool = False) -> None:
    """Print one text's class and probabilities, or a table of many; control characters in texts and
    class names are shown escaped (`textrnn.files.printable`), never sent to the terminal."""
    multi = multi_label or any(len(pred.labels) != 1 or pred.labels[0] != pred.label for pred in predictions)
    if len(texts) == 1:
        pred = predictions[0]
        if multi:
            chosen = "|".join(map(_name, pred.labels)) or "(no label)"
            console.print(f"[bold]{chosen}[/bold]  {_preview(texts[0])}")
        else:
            console.print(f"[bold]{_name(pred.label)}[/bold] ({pred.confidence:.3f})  {_preview(texts[0])}")
        table = Table("class", "probability")
        for name in label_names:
            table.add_row(_name(name), f"{pred.probs[name]:.4f}")
        console.print(table)
        return
    table = Table("#", "text", "labels" if multi else "label", *map(_name, label_names))
    for i, (text, pred) in enumerate(zip(texts, predictions)):
        probs = (f"{pred.probs[name]:.3f}" for name in label_names)
        shown = "|".join(map(_name, pred.labels)) if multi else _name(pred.label)
        table.add_row(str(i), _preview(text), shown, *probs)
    console.print(table)


def run(args: argparse.Namespace, console: Console) -> None:
    """Classify the texts ``args`` names and write or print the predictions."""
    if args.output is not None:  # fail before the model is loaded
        check_output(args.output, inputs=(args.input, args.ckpt_path), overwrite=args.overwrite)
    texts = [args.text] if args.text is not None else read_texts(args.input, args.text_column)
    import textrnn  # torch and Lightning load here, after the arguments are known to be good

    classifier = textrnn.load(args.ckpt_path, device=args.device)
    names = classifier.label_names
    predictions = classifier.predict(texts, batch_size=args.batch_size, top_k=args.top_k, threshold=args.threshold)
    if args.output is None:
        show(console, texts, predictions, names, classifier.multi_label)
        return
    probs = [[pred.probs[name] for name in names] for pred in predictions]  # (N, C)
    multi = classifier.multi_label
    sets = [pred.labels for pred in predictions] if multi else None
    out = write_rows(prediction_rows(texts, probs, names, label_sets=sets), args.output,
                     prediction_columns(names, multi), inputs=(args.input, args.ckpt_path), overwrite=args.overwrite)
    console.print(f"Wrote {len(texts)} predictions to {printable(out)}", markup=False, soft_wrap=True)


def main(argv: list[str]) -> int:
    """Run ``textrnn classify`` on ``argv`` (the arguments after "classify"); returns the exit code (2 and one
    line on stderr for a user error: a bad path, format, column or checkpoint)."""
    # Console(emoji=False): ":smile:" in a text is text, not an emoji code.
    return run_subcommand("classify", build_parser(), lambda args: run(args, Console(emoji=False)), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
