"""Training callbacks that log to the active MLflow run."""

from __future__ import annotations

import mlflow


class MlflowLogger:
    """Logs step metrics every ``every`` steps and every epoch's metrics, their names after ``prefix`` (a stage's
    name, when a recipe has several)."""

    def __init__(self, every: int = 10, prefix: str = ""):
        self.every = every
        self.prefix = prefix

    def _named(self, metrics: dict[str, float]) -> dict[str, float]:
        return {f"{self.prefix}{k}": v for k, v in metrics.items()}

    def on_step(self, step: int, metrics: dict[str, float]) -> None:
        if step % self.every == 0:
            mlflow.log_metrics(self._named(metrics), step=step)

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        mlflow.log_metrics(self._named(metrics), step=epoch + 1)
