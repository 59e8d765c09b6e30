"""``textrnn export``: write a trained checkpoint as an ONNX model folder that classifies raw text.

    textrnn export --ckpt_path best.ckpt --output exported/
    textrnn classify --ckpt_path exported/ --text "The striker scored a late goal."

The folder holds ``model.onnx``, ``tokenizer.json``, ``labels.json`` and ``model.json`` (see
`textrnn.inference.onnx`). Needs the optional extra ``pip install "textrnn[onnx]"``.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from textrnn.cli.subcommand import run_subcommand
from textrnn.files import printable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textrnn export",
        description='Export a trained textrnn checkpoint to ONNX (needs pip install "textrnn[onnx]").',
    )
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `textrnn fit` (.ckpt)")
    parser.add_argument("--output", required=True,
                        help="the folder to write model.onnx, tokenizer.json, labels.json and model.json into")
    return parser


def run(args: argparse.Namespace) -> None:
    from textrnn.inference.onnx import export  # torch loads here, after the arguments are known to be good

    folder = export(args.ckpt_path, args.output)  # a missing onnx extra is a ValueError (MissingExtraError)
    Console().print(f"Exported {printable(args.ckpt_path)} to {printable(folder)}/ (model.onnx, tokenizer.json, "
                    "labels.json, model.json)", markup=False, soft_wrap=True)


def main(argv: list[str]) -> int:
    """Run ``textrnn export`` on ``argv`` (the arguments after "export"); returns the exit code (2 and one
    line on stderr for a user error: a bad checkpoint, a missing onnx extra)."""
    return run_subcommand("export", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
