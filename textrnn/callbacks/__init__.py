"""Callbacks: the per-class test report, the prediction writer, pictures of a run, TensorBoard logs next to
the CSV ones, and the safety nets every ``textrnn`` run gets (stop at a non-finite loss, resume exactly).
Configs name them as ``textrnn.callbacks.<Name>``."""

from textrnn.callbacks.logs import TensorBoardLogs
from textrnn.callbacks.plots import LearningCurves, SinePlots, run_dir
from textrnn.callbacks.predictions import PredictionWriter
from textrnn.callbacks.report import ClassificationReport
from textrnn.callbacks.training import NonFiniteLossError, ResumeRNGState, StopOnNonFiniteLoss

__all__ = [
    "ClassificationReport",
    "LearningCurves",
    "NonFiniteLossError",
    "PredictionWriter",
    "ResumeRNGState",
    "SinePlots",
    "StopOnNonFiniteLoss",
    "TensorBoardLogs",
    "run_dir",
]
