"""clipzoo.registry: MLflow tracking, the model registry, the pyfunc flavour (models-from-code) and serving."""
