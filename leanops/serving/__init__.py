"""Serving approved model versions: the HTTP model server, the prediction log, batch scoring."""

from leanops.serving.models import Deployment
from leanops.serving.predictor import PayloadError, Predictor
from leanops.serving.service import ServingService

__all__ = ["Deployment", "PayloadError", "Predictor", "ServingService"]
