"""The shared predict path: texts as inputs, domain tasks, per-item errors, and a loss that reads captions."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.loss import create_loss
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Prediction, Predictor
from clipzoo.registry.pyfunc import items_from_frame, parse_options


def _files(image_demo, n: int) -> list[str]:
    frame = pd.read_csv(image_demo.heldout)
    return [str(Path(image_demo.heldout).parent / p) for p in frame["path"][:n]]


@pytest.fixture()
def predictor(tiny_spec):
    torch.manual_seed(0)
    return Predictor(build_model(tiny_spec), get_domain("image"))


def test_embed_mixes_files_and_texts_in_order(predictor, image_demo):
    files = _files(image_demo, 2)
    items = [InputItem.from_path(files[0]), InputItem.from_text("a red circle"), InputItem.from_path(files[1])]
    preds = predictor.predict(items, task="embed")
    assert [p.input for p in preds] == [files[0], "a red circle", files[1]]
    text = torch.tensor(preds[1].embedding)
    expected = predictor.encode_text(["a red circle"])[0]
    torch.testing.assert_close(text, expected)
    image_only = predictor.predict([InputItem.from_path(files[1])], task="embed")[0]
    torch.testing.assert_close(torch.tensor(preds[2].embedding), torch.tensor(image_only.embedding))


def test_classify_reports_a_text_only_item_and_answers_the_rest(predictor, image_demo):
    preds = predictor.predict(
        [InputItem.from_text("just words"), InputItem.from_path(_files(image_demo, 1)[0])], labels=["circle", "star"]
    )
    assert "just words" in preds[0].error and preds[0].labels == []
    assert preds[1].error is None and sorted(preds[1].labels) == ["circle", "star"]


def test_unknown_task_names_the_available_ones(predictor, image_demo):
    with pytest.raises(InputError, match=r"classify.*embed"):
        predictor.predict([InputItem.from_path(_files(image_demo, 1)[0])], task="search")


def test_a_domain_task_gets_the_whole_request(predictor, image_demo, monkeypatch):
    seen = {}

    def count_items(pred: Predictor, request) -> list[Prediction]:
        seen["request"] = request
        return [Prediction(input=i.name, extra={"n_text": len(i.text or "")}) for i in request.items]

    monkeypatch.setattr(predictor.domain, "prediction_tasks", lambda: {"count": count_items})
    items = items_from_frame(pd.DataFrame({"path": [_files(image_demo, 1)[0], None], "text": ["in blue", "alone"]}))
    preds = predictor.predict(items, task="count", catalogue="/x", options=parse_options('{"k": 3}'))
    assert [p.to_dict()["n_text"] for p in preds] == [7, 5]
    assert seen["request"].catalogue == "/x" and seen["request"].options == {"k": 3}
    assert not items[1].has_file and items[0].has_file


@pytest.mark.parametrize("raw", ["[1, 2]", "{bad json"])
def test_options_must_be_a_json_object(raw):
    with pytest.raises(InputError, match="options"):
        parse_options(raw)


def test_a_domain_loss_that_reads_captions_gets_them(tiny_spec, image_demo, tmp_path, monkeypatch):
    from clipzoo.core.data import Manifest, ManifestDataset
    from clipzoo.core.train import TrainConfig, Trainer
    from open_clip.loss import ClipLoss

    class CountingLoss(ClipLoss):
        uses_captions = True
        calls: ClassVar[list[list[str]]] = []

        def forward(self, image_features, text_features, logit_scale, captions=None):
            CountingLoss.calls.append(list(captions))
            return super().forward(image_features, text_features, logit_scale)

    domain = get_domain("image")
    with pytest.raises(InputError, match="unknown loss 'counting'"):
        create_loss("counting", domain="image")
    monkeypatch.setattr(domain, "losses", lambda: {"counting": lambda **kw: CountingLoss()})
    assert isinstance(create_loss("counting", domain="image"), CountingLoss)
    spec = tiny_spec.replace(loss="counting")
    dataset = ManifestDataset(Manifest.read(image_demo.train), domain, domain.transform(spec, train=True))
    trainer = Trainer(build_model(spec), domain, dataset, TrainConfig(batch_size=4, max_steps=1), tmp_path)
    captions = ["a", "b", "c", "d"]
    trainer.train_step(torch.randn(4, 3, 32, 32), captions)
    assert CountingLoss.calls == [captions]
