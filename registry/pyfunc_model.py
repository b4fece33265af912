"""Models-from-code entry: MLflow runs this file to build the served model; nothing is pickled."""

import mlflow
from clipzoo.registry.pyfunc import ClipzooPyfunc

mlflow.models.set_model(ClipzooPyfunc())
