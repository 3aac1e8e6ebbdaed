"""Inference: the Predictor (pre/post-processing, devices, backends) and ONNX export."""

from m2h_ros.inference.predictor import Prediction, Predictor, PredictorConfig

__all__ = ["Prediction", "Predictor", "PredictorConfig"]
