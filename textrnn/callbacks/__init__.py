"""Callbacks: the per-class test report, the prediction writer, pictures of a run, and the safety nets every ``textrnn`` run gets
(stop at a non-finite loss, resume exactly). Configs name them as ``textrnn.callbacks.<Name>``."""

from textrnn.callbacks.plots import SinePlots, run_dir
from textrnn.callbacks.predictions import PredictionWriter
from textrnn.callbacks.report import ClassificationReport
from textrnn.callbacks.training import NonFiniteLossError, ResumeRNGState, StopOnNonFiniteLoss

__all__ = ["ClassificationReport", "NonFiniteLossError", "PredictionWriter", "ResumeRNGState", "SinePlots",
           "StopOnNonFiniteLoss", "run_dir"]
