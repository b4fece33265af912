"""Publish the registered tiny model again under a given metric, once a start file appears (concurrency tests)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import mlflow
from clipzoo.registry.loading import load_clip
from clipzoo.registry.package import sha256_file
from clipzoo.registry.publish import publish
from clipzoo.registry.tracking import experiment_for

if __name__ == "__main__":
    model, example_file, value, start = sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])
    heldout = sys.argv[5]  # the held-out manifest the value is "measured" on: the champion's, so they compare
    clip = load_clip(model)
    experiment_for("image")
    example = {"inputs": {"path": [example_file]}, "params": {"labels": ["circle", "star"]}}
    while not start.exists():
        time.sleep(0.01)
    with mlflow.start_run():
        pub = publish(clip, "card", {}, "shape_top1", {"shape_top1": value}, example, data_sha256=sha256_file(heldout))
    print(pub.version, pub.champion)
