"""Training callbacks that log to the active MLflow run."""

from __future__ import annotations

import mlflow


class MlflowLogger:
    """Logs step metrics every ``every`` steps and every epoch's metrics."""

    def __init__(self, every: int = 10):
        self.every = every

    def on_step(self, step: int, metrics: dict[str, float]) -> None:
        if step % self.every == 0:
            mlflow.log_metrics(metrics, step=step)

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        mlflow.log_metrics(metrics, step=epoch + 1)
