"""``textrnn export``: write a trained checkpoint as an ONNX model folder that classifies raw text.

    textrnn export --ckpt_path best.ckpt --output exported/
    textrnn classify --ckpt_path exported/ --text "The striker scored a late goal."

The folder holds ``model.onnx``, ``tokenizer.json``, ``labels.json`` and ``model.json`` (see
`textrnn.inference.onnx`). Needs the optional extra ``pip install "textrnn[onnx]"``.
"""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textrnn export",
        description='Export a trained textrnn checkpoint to ONNX (needs pip install "textrnn[onnx]").',
    )
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by `textrnn fit` (.ckpt)")
    parser.add_argument("--output", required=True,
                        help="the folder to write model.onnx, tokenizer.json, labels.json and model.json into")
    return parser


def main(argv: list[str]) -> int:
    """Run ``textrnn export`` on ``argv`` (the arguments after "export"); returns the exit code.

    User errors (a bad checkpoint, a missing onnx extra) print one line to stderr and return 2;
    set TEXTRNN_TRACEBACK=1 to see the traceback instead.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        from textrnn.inference.onnx import export  # torch loads here, after the arguments are known to be good

        folder = export(args.ckpt_path, args.output)
    except (ValueError, OSError) as err:  # MissingExtraError is a ValueError
        if os.environ.get("TEXTRNN_TRACEBACK"):
            raise
        Console(stderr=True).print(f"textrnn export: error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
    Console().print(f"Exported {args.ckpt_path} to {folder}/ (model.onnx, tokenizer.json, labels.json, model.json)",
                    markup=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
