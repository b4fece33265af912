"""Out of distribution: is an input's embedding like the ones a version was evaluated on?

A version records the statistics of its held-out image embeddings: the mean of each class (one mean when the rows
have no class), a covariance shared by the classes (as GDA fits it), shrunk towards a multiple of the identity by
Ledoit and Wolf's rule so it inverts with a few hundred rows in hundreds of dimensions, and a threshold at the 99th
percentile of the held-out rows' own Mahalanobis distances to their nearest class mean. An input beyond it is
"unlike anything this model was evaluated on" (Lee et al., NeurIPS 2018, "A Simple Unified Framework for Detecting
Out-of-Distribution Samples and Adversarial Attacks"). It looks at the picture through the model, beside the
metadata scope checks, which look only at headers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

OOD_WEIGHTS = "ood.safetensors"
OOD_CONFIG = "ood.json"
PERCENTILE = 99.0
MIN_ROWS = 20  # fewer held-out rows than this give no usable threshold


@dataclass
class EmbeddingStats:
    """Class means ``[K, D]``, the shared precision matrix ``[D, D]`` and the distance threshold."""

    means: torch.Tensor
    precision: torch.Tensor
    threshold: float
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, features: torch.Tensor, classes: list[str] | None = None, percentile: float = PERCENTILE, folds: int = 5
    ) -> EmbeddingStats:
        """Statistics of embeddings ``[N, D]`` (with each row's class, when known). The threshold is the percentile
        of out-of-fold distances (each fold measured against statistics fitted without it), so inputs the fit never
        saw are flagged at about the nominal rate, not more (in-sample distances are optimistically short)."""
        labels = list(classes) if classes else ["all"] * len(features)
        stats = cls._fit(features, labels)
        order = np.random.default_rng(0).permutation(len(features))
        out_of_fold = torch.empty(len(features), dtype=torch.float64)
        for part in np.array_split(order, folds):
            rest = np.setdiff1d(order, part)
            fold = cls._fit(features[rest], [labels[i] for i in rest])
            out_of_fold[part] = fold.distances(features[part])
        stats.threshold = float(np.percentile(out_of_fold.numpy(), percentile))
        stats.info.update({"percentile": percentile, "folds": folds, "out_of_fold_median": float(out_of_fold.median())})
        return stats

    @classmethod
    def _fit(cls, features: torch.Tensor, labels: list[str]) -> EmbeddingStats:
        from sklearn.covariance import ledoit_wolf

        x = torch.nn.functional.normalize(features.double(), dim=-1).numpy()
        names = sorted(set(labels))
        index = np.array([names.index(c) for c in labels])
        means = np.stack([x[index == k].mean(axis=0) for k in range(len(names))])
        covariance, shrinkage = ledoit_wolf(x - means[index], assume_centered=True)
        precision = np.linalg.inv(covariance)
        info = {"rows": len(x), "classes": names if names != ["all"] else [], "shrinkage": float(shrinkage)}
        return cls(torch.from_numpy(means).float(), torch.from_numpy(precision).float(), 0.0, info)  # as saved

    def distances(self, features: torch.Tensor) -> torch.Tensor:
        """Mahalanobis distance of each embedding ``[N, D]`` to its nearest class mean, ``[N]``."""
        x = torch.nn.functional.normalize(features.double(), dim=-1)
        diff = x[:, None, :] - self.means[None].double()  # [N, K, D]
        squared = torch.einsum("nkd,de,nke->nk", diff, self.precision.double(), diff)
        return squared.clamp(min=0).min(dim=1).values.sqrt()

    def warning(self, distance: float) -> str | None:
        """The row's warning for an input at ``distance``, or None when it is like the held-out inputs."""
        if distance <= self.threshold:
            return None
        return (
            f"unlike anything this model was evaluated on: its embedding lies {distance:.1f} from the held-out "
            f"data's (Mahalanobis), beyond the {self.info.get('percentile', PERCENTILE):g}th percentile "
            f"{self.threshold:.1f} of the held-out inputs; the answer may be meaningless"
        )

    def save(self, folder: str | Path) -> list[str]:
        """Write the statistics into a model folder; returns the file names written (to be checksummed)."""
        folder = Path(folder)
        tensors = {"means": self.means.float().contiguous(), "precision": self.precision.float().contiguous()}
        save_file(tensors, str(folder / OOD_WEIGHTS))
        (folder / OOD_CONFIG).write_text(json.dumps({"threshold": self.threshold, "info": self.info}, indent=2))
        return [OOD_WEIGHTS, OOD_CONFIG]

    @classmethod
    def load(cls, folder: str | Path) -> EmbeddingStats | None:
        """The statistics saved in a model folder, or None for a version registered without held-out data."""
        folder = Path(folder)
        if not (folder / OOD_CONFIG).is_file():
            return None
        config = json.loads((folder / OOD_CONFIG).read_text())
        tensors = load_file(str(folder / OOD_WEIGHTS))
        return cls(tensors["means"], tensors["precision"], float(config["threshold"]), config.get("info", {}))
