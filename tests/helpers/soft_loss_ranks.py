"""MedCLIP's soft loss on a fixed global batch of features, alone or under torchrun; writes loss and feature grads.

Used by tests/domains/medical/test_medical_loss.py: the ranks' losses and gradients must equal one process's on
the whole batch, with same-finding reports split across ranks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import clipzoo.domains.medical  # noqa: F401  (registers "medclip_soft")
import torch
import torch.distributed as dist
import torch.nn.functional as F
from clipzoo.core.distributed import init_distributed
from clipzoo.core.loss import create_loss
from safetensors.torch import save_file

REPORTS = [
    "A 30 mm solid nodule in the left upper lobe. No pleural effusion. Heart size is normal.",
    "Lungs are free of nodules. No effusion. Normal heart size.",
    "Moderate right pleural effusion. The heart is enlarged.",
    "Right lower lobe nodule measuring 28 mm. Pleural spaces are clear. The heart is not enlarged.",
    "Small left effusion. No nodule.",
    "Cardiomegaly. No effusion. No nodule.",
    "Left lower lobe nodule, 22 mm. Small right effusion.",
    "Normal chest. No acute abnormality.",
]


def main(out_dir: str, local_loss: bool) -> None:
    env = init_distributed(device="cpu")
    generator = torch.Generator().manual_seed(0)
    image = F.normalize(torch.randn(len(REPORTS), 16, generator=generator), dim=-1)
    text = F.normalize(torch.randn(len(REPORTS), 16, generator=generator), dim=-1)
    per_rank = len(REPORTS) // env.world_size
    rows = slice(env.rank * per_rank, (env.rank + 1) * per_rank)
    image, text = image[rows].clone().requires_grad_(), text[rows].clone().requires_grad_()
    loss_fn = create_loss(
        "medclip_soft", domain="medical", rank=env.rank, world_size=env.world_size, local_loss=local_loss
    )
    loss = loss_fn(image, text, torch.tensor(10.0), captions=REPORTS[rows])
    loss.backward()
    save_file(
        {"loss": loss.detach().reshape(1), "image_grad": image.grad, "text_grad": text.grad},
        str(Path(out_dir) / f"rank{env.rank}-of-{env.world_size}.safetensors"),
    )
    if env.distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], local_loss=len(sys.argv) > 2 and sys.argv[2] == "local")
