"""Inference from saved models: safe checkpoint reading (``checkpoints``) and raw-text classification
(``classifier``: ``textrnn.load(path).predict(texts)``). Nothing here imports at package import, so the
low-level ``checkpoints`` module stays importable from the models without a cycle."""
