"""``textrnn classify``: label raw texts with a trained checkpoint, from the command line.

    textrnn classify --ckpt_path best.ckpt --text "The striker scored a late goal."
    textrnn classify --ckpt_path best.ckpt --input news.csv --output labelled.csv

Input is one string (``--text``) or a file (``--input``): ``.txt`` (one text per line), ``.csv`` or
``.jsonl`` (one JSON object per line), the last two with a text column (``--text_column``). Output
(``--output``) is CSV or JSONL, chosen by extension, one row per input text in input order, with the
columns ``text``, ``label`` and one ``prob_<class>`` per class. Without ``--output`` a table is
printed. The model is rebuilt from the checkpoint alone (`textrnn.load`): no config, data or network.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # textrnn.inference.classifier imports torch: load it only once the arguments are good
    from textrnn.inference.classifier import Prediction

INPUT_FORMATS = (".txt", ".csv", ".jsonl")
OUTPUT_FORMATS = (".csv", ".jsonl")
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
    parser.add_argument("--text_column", default="text", help="the text column of a .csv or .jsonl input")
    parser.add_argument("--batch_size", type=int, default=64, help="texts per forward pass")
    parser.add_argument("--device", default=None, help="'cpu', 'cuda', 'cuda:1', ... (default: cuda if available)")
    return parser


def _suffix(path: str, valid: Sequence[str], what: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in valid:
        raise ValueError(f"cannot tell the format of {what} {path!r} from {suffix or 'no extension'!r}; "
                         f"valid extensions: {', '.join(valid)}")
    return suffix


def _text_value(value: object, where: str) -> str:
    if value is None:  # an empty JSON field or CSV cell: still one row, classified as empty text
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: the text is a {type(value).__name__} ({value!r}), not a string")
    return value


def read_texts(path: str, text_column: str = "text") -> list[str]:
    """The texts of a .txt (every line), .csv or .jsonl (the ``text_column`` of every row) file, in order."""
    suffix = _suffix(path, INPUT_FORMATS, "input")
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no input file at {path!r}")
    try:
        return _read_texts(file, suffix, text_column)
    except UnicodeDecodeError as err:  # the input must be UTF-8: no silent replacement characters
        from textrnn.data.sources import utf8_hint

        raise ValueError(f"input file {path!r} is not valid UTF-8 (byte 0x{err.object[err.start]:02x}); convert it, "
                         f"e.g. {utf8_hint(file)}") from None


def _read_texts(file: Path, suffix: str, text_column: str) -> list[str]:
    path = str(file)
    if suffix == ".txt":
        return file.read_text(encoding="utf-8").splitlines()
    if suffix == ".csv":
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            if text_column not in columns:
                raise ValueError(f"{path!r} has no column {text_column!r}; columns found: {columns} "
                                 "(choose one with --text_column)")
            return [_text_value(row[text_column], f"{path}:{reader.line_num}") for row in reader]
    texts = []
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number} is not a JSON object: {err}") from None
            if not isinstance(row, dict) or text_column not in row:
                found = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise ValueError(f"{path}:{number} has no field {text_column!r}; fields found: {found} "
                                 "(choose one with --text_column)")
            texts.append(_text_value(row[text_column], f"{path}:{number}"))
    return texts


def prediction_rows(
    texts: Sequence[str], predictions: Sequence[Prediction], label_names: Sequence[str]
) -> list[dict[str, object]]:
    """One flat row per text: text, label, then prob_<class> for every class."""
    return [
        {"text": text, "label": pred.label, **{f"prob_{name}": pred.probs[name] for name in label_names}}
        for text, pred in zip(texts, predictions)
    ]


def write_rows(rows: list[dict[str, object]], path: str, columns: Sequence[str]) -> None:
    """Write rows as CSV or JSONL, by the extension of ``path`` (its folder is created)."""
    suffix = _suffix(path, OUTPUT_FORMATS, "output")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        if suffix == ".csv":
            writer = csv.DictWriter(handle, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def show(
    console: Console, texts: Sequence[str], predictions: Sequence[Prediction], label_names: Sequence[str]
) -> None:
    """Print one text's class and probabilities, or a table of many."""
    if len(texts) == 1:
        pred = predictions[0]
        console.print(f"[bold]{escape(pred.label)}[/bold] ({pred.confidence:.3f})  {escape(_preview(texts[0]))}")
        table = Table("class", "probability")
        for name in label_names:
            table.add_row(escape(name), f"{pred.probs[name]:.4f}")
        console.print(table)
        return
    table = Table("#", "text", "label", *map(escape, label_names))
    for i, (text, pred) in enumerate(zip(texts, predictions)):
        probs = (f"{pred.probs[name]:.3f}" for name in label_names)
        table.add_row(str(i), escape(_preview(text)), escape(pred.label), *probs)
    console.print(table)


def run(args: argparse.Namespace, console: Console) -> None:
    """Classify the texts ``args`` names and write or print the predictions."""
    import textrnn  # torch and Lightning load here, after the arguments are known to be good

    if args.output is not None:
        _suffix(args.output, OUTPUT_FORMATS, "output")  # fail before the model is loaded
    texts = [args.text] if args.text is not None else read_texts(args.input, args.text_column)
    classifier = textrnn.load(args.ckpt_path, device=args.device)
    predictions = classifier.predict(texts, batch_size=args.batch_size)
    names = classifier.label_names
    if args.output is None:
        show(console, texts, predictions, names)
        return
    columns = ["text", "label", *(f"prob_{name}" for name in names)]
    write_rows(prediction_rows(texts, predictions, names), args.output, columns)
    console.print(f"Wrote {len(texts)} predictions to {args.output}", markup=False, soft_wrap=True)


def main(argv: list[str]) -> int:
    """Run ``textrnn classify`` on ``argv`` (the arguments after "classify"); returns the exit code.

    User errors (a bad path, format, column or checkpoint) print one line to stderr and return 2;
    set TEXTRNN_TRACEBACK=1 to see the traceback instead.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        run(args, Console())
    except (ValueError, OSError) as err:
        if os.environ.get("TEXTRNN_TRACEBACK"):
            raise
        Console(stderr=True).print(f"textrnn classify: error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
