"""``textrnn generate``: continue a prompt with a trained language model, the text version of the sine
roll-out (each predicted token is fed back as the next input), and a quick look at what the encoder learned.

    textrnn generate --ckpt_path runs/lm_bilstm --prompt "Shares in" --tokens 50 --temperature 0.8 --top_k 40

The forward direction of the `LanguageModel` samples one token at a time. Text is shown as the tokenizer
sees it (lowercased words and punctuation) with spaces before punctuation removed; ``[UNK]`` is never
produced. The output is escaped like every printed text.
"""

from __future__ import annotations

import argparse
import re
import sys

from rich.console import Console

from textrnn.cli.subcommand import run_subcommand
from textrnn.files import printable

NO_SPACE_BEFORE = re.compile(r" ([.,;:!?%)\]}'’])")
NO_SPACE_AFTER = re.compile(r"([(\[{$£]) ")
CLITIC = re.compile(r"(\w)(['’]) (s|t|re|ve|ll|d|m)\b")  # "country ' s" -> "country's"
JOINED = re.compile(r"(\w) ([-/]) (?=\w)|(\d),(?: )(?=\d{3}\b)")  # "uk - based", "3 , 000"


def detokenize(tokens: list[str], level: str = "word") -> str:
    """Join tokens into readable text: words with spaces, no space before punctuation (``char`` level: as is)."""
    if level == "char":
        return "".join(tokens)
    text = NO_SPACE_AFTER.sub(r"\1", NO_SPACE_BEFORE.sub(r"\1", " ".join(tokens)))
    text = CLITIC.sub(r"\1\2\3", text)
    return JOINED.sub(lambda m: f"{m[1]}{m[2]}" if m[1] else f"{m[3]},", text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textrnn generate",
                                     description="Continue a prompt with a trained textrnn language model.")
    parser.add_argument("--ckpt_path", required=True,
                        help="a LanguageModel checkpoint (.ckpt) or its run folder, e.g. runs/lm_bilstm")
    parser.add_argument("--prompt", default="", help="the text to continue (default: none)")
    parser.add_argument("--tokens", type=int, default=50, help="how many tokens to add (default: 50)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature; 0 always takes the most likely token (default: 1.0)")
    parser.add_argument("--top_k", type=int, default=None, help="sample only from the k most likely tokens")
    parser.add_argument("--seed", type=int, default=42, help="seed of the sampling (default: 42)")
    parser.add_argument("--device", default="cpu", help="where the model runs (default: cpu)")
    return parser


def generate_text(ckpt_path: str, prompt: str = "", tokens: int = 50, temperature: float = 1.0,
                  top_k: int | None = None, seed: int = 42, device: str = "cpu") -> str:
    """The prompt continued by ``tokens`` sampled tokens, as text (see `LanguageModel.generate`)."""
    import torch

    from textrnn.data.tokenizer import PAD_TOKEN, UNK_TOKEN, encode_batch
    from textrnn.inference.classifier import resolve_device
    from textrnn.models.pretrained import read_language_model

    if tokens < 0 or tokens > 10000:
        raise ValueError(f"--tokens must be from 0 to 10,000, got {tokens}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"--top_k must be >= 1, got {top_k}")
    if not temperature >= 0 or temperature == float("inf"):
        raise ValueError(f"--temperature must be a finite number >= 0, got {temperature}")
    device = resolve_device(device)
    lm = read_language_model(ckpt_path)
    model = lm.build().to(device)
    tokenizer = lm.tokenizer
    tokenizer.no_truncation()
    prompt_ids = encode_batch(tokenizer, [prompt])[0] if prompt.strip() else []
    if not prompt_ids:  # no prompt: start from the most frequent token, usually "the"
        prompt_ids = [len(("[PAD]", "[UNK]"))]
    generator = torch.Generator().manual_seed(seed)
    banned = tuple(tokenizer.token_to_id(t) for t in (PAD_TOKEN, UNK_TOKEN))
    ids = model.generate(torch.tensor(prompt_ids), tokens, temperature, top_k, generator, banned)
    return detokenize([tokenizer.id_to_token(int(i)) for i in ids], lm.level)


def run(args: argparse.Namespace) -> None:
    text = generate_text(args.ckpt_path, args.prompt, args.tokens, args.temperature, args.top_k, args.seed, args.device)
    Console().print(printable(text), markup=False, highlight=False, soft_wrap=True)


def main(argv: list[str]) -> int:
    """Run ``textrnn generate`` on ``argv``; returns the exit code (2 and one line for a user error)."""
    return run_subcommand("generate", build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
