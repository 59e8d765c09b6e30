"""`textrnn fit` arguments for a small TextRNN on a tiny CSV, shared by the CLI and reliability tests."""

from pathlib import Path


def tiny_fit_args(root: Path, data_files: str, *extra: str, epochs: int = 2) -> list[str]:
    """A 16-unit TextRNN on ``data_files``, ``epochs`` epochs, writing under ``root``; ``extra`` comes last."""
    return ["fit", "--model", "TextRNN", "--model.init_args.embedding_dim", "16",
            "--model.init_args.hidden_size", "16", "--model.init_args.lr", "0.01",
            "--data", "TextDataModule", "--data.init_args.dataset", "csv",
            "--data.init_args.data_files", data_files, "--data.init_args.batch_size", "16",
            "--trainer.max_epochs", str(epochs), "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", str(root),
            "--trainer.use_distributed_sampler", "false", *extra]
