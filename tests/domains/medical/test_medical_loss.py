"""The MedCLIP soft-target loss: report labels, a hand-computed small case, identical findings are not negatives."""

from __future__ import annotations

import math

import pytest
import torch
from clipzoo.core.loss import available_losses, create_loss
from clipzoo.domains.medical.report_labels import report_findings
from clipzoo.domains.medical.soft_loss import MedClipSoftLoss, soft_targets
from safetensors.torch import load_file

from tests.conftest import REPO
from tests.helpers.torchrun import run_alone_and_on_two_ranks

HELPER = REPO / "tests" / "helpers" / "soft_loss_ranks.py"

NODULE_A = "A 30 mm solid nodule in the left upper lobe. No pleural effusion. Heart size is normal."
NODULE_B = "Right lower lobe nodule measuring 28 mm. Pleural spaces are clear. The heart is not enlarged."
NORMAL = "Lungs are free of nodules. No effusion. Normal heart size. Impression: no acute abnormality."


def test_report_findings_follow_negation_per_clause():
    assert report_findings(NODULE_A) == {"nodule": 1, "effusion": 0, "cardiomegaly": 0, "normal": 0}
    assert report_findings(NORMAL) == {"nodule": 0, "effusion": 0, "cardiomegaly": 0, "normal": 1}
    mixed = "Impression: left effusion, no nodule. Enlarged heart."
    assert report_findings(mixed) == {"nodule": 0, "effusion": 1, "cardiomegaly": 1, "normal": 0}


def test_hand_computed_small_case():
    # labels (nodule, effusion, cardiomegaly, normal): A = B = [1,0,0,0], N = [0,0,0,1]; cosines 1 or 0
    t = 0.5
    targets = soft_targets([NODULE_A, NODULE_B, NORMAL], temperature=t)
    e = math.exp(1 / t)
    same, other = e / (2 * e + 1), 1 / (2 * e + 1)
    expected = torch.tensor([[same, same, other], [same, same, other], [1 / (e + 2), 1 / (e + 2), e / (e + 2)]])
    torch.testing.assert_close(targets, expected)

    img = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    txt = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    scale = torch.tensor(2.0)
    loss = MedClipSoftLoss(temperature=t)(img, txt, scale, captions=[NODULE_A, NODULE_B, NORMAL])
    logits = (scale * img @ txt.T).tolist()

    def xent(rows, tgt):
        total = 0.0
        for row, p in zip(rows, tgt, strict=True):
            norm = math.log(sum(math.exp(v) for v in row))
            total -= sum(pi * (v - norm) for v, pi in zip(row, p, strict=True))
        return total / len(rows)

    cols = [list(c) for c in zip(*logits, strict=True)]
    hand = (xent(logits, expected.tolist()) + xent(cols, expected.T.tolist())) / 2
    assert loss.item() == pytest.approx(hand, rel=1e-5)


def test_identical_findings_are_not_negatives():
    captions = [NODULE_A, NODULE_B, NORMAL]
    targets = soft_targets(captions)
    assert targets[0, 1] == pytest.approx(targets[0, 0]) and targets[0, 2] < 1e-3
    # image 0 moved from its own report alone to halfway between its report and the other nodule report (1):
    # hard CLIP counts report 1 as a negative and the loss rises; with soft targets it is a positive and falls
    reports, scale = torch.eye(3), torch.tensor(10.0)
    own = torch.eye(3)
    between = torch.stack([torch.nn.functional.normalize(reports[0] + reports[1], dim=0), reports[1], reports[2]])
    soft = MedClipSoftLoss()
    assert soft(between, reports, scale, captions=captions) < soft(own, reports, scale, captions=captions)
    hard = create_loss("clip")
    assert hard(between, reports, scale) > hard(own, reports, scale)


def test_declared_by_the_medical_domain_only():
    assert "medclip_soft" in available_losses("medical")
    assert create_loss("medclip_soft", domain="medical").uses_captions
    assert "medclip_soft" not in available_losses("image")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["global", "local"])
def test_two_ranks_give_the_single_process_loss_and_gradients(mode, tmp_path):
    """Captions and features are gathered across ranks, so same-finding reports on different ranks still get their
    soft targets: rank losses (their mean, with local_loss) and the gradients DDP averages equal one process's."""
    run_alone_and_on_two_ranks(HELPER, str(tmp_path), mode)
    one = load_file(str(tmp_path / "rank0-of-1.safetensors"))
    ranks = [load_file(str(tmp_path / f"rank{r}-of-2.safetensors")) for r in range(2)]
    losses = torch.cat([r["loss"] for r in ranks])
    torch.testing.assert_close(losses.mean(), one["loss"][0])
    if mode == "global":
        torch.testing.assert_close(losses[0], losses[1])
    for key in ("image_grad", "text_grad"):
        averaged = torch.cat([r[key] for r in ranks]) / 2  # each rank's grad is world_size x its share
        torch.testing.assert_close(averaged, one[key], atol=1e-6, rtol=1e-5)
