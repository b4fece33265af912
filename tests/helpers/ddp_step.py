"""One training step on a fixed global batch, run alone or under torchrun; writes the loss and gradients.

Used by tests/core/test_distributed.py: the 2-process run must give the single-process loss and gradients.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from clipzoo.core.data import Manifest, ManifestDataset, collate_with
from clipzoo.core.distributed import init_distributed
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.spec import ModelSpec
from clipzoo.core.train import TrainConfig, Trainer
from safetensors.torch import save_file


def main(spec_path: str, manifest_path: str, out_dir: str, local_loss: bool) -> None:
    env = init_distributed(device="cpu")
    domain = get_domain("image")
    spec = ModelSpec.load(spec_path)
    torch.manual_seed(0)
    clip = build_model(spec)
    dataset = ManifestDataset(Manifest.read(manifest_path), domain, domain.transform(spec, train=False))
    config = TrainConfig(epochs=1, batch_size=16, warmup_steps=1, local_loss=local_loss, max_steps=1)
    trainer = Trainer(clip, domain, dataset, config, out_dir, env=env)
    rows = [row for row, _ in trainer._loader().sampler][: trainer.sampler.local_batch_size]  # first global batch
    batch = collate_with(domain)([dataset[r] for r in rows])
    loss = trainer.train_step(batch["input"], batch["caption"])
    if env.is_main:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps({"loss": loss, "world_size": env.world_size, "rows": rows}))
        grads = {n: p.grad.contiguous() for n, p in clip.model.named_parameters() if p.grad is not None}
        save_file(grads, str(out / "grads.safetensors"))
    if env.distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], local_loss=len(sys.argv) > 4 and sys.argv[4] == "local")
