"""The Trainer: exact resume, gradient accumulation equal to the whole batch, locked-text caching, progress."""

from __future__ import annotations

import pandas as pd
import torch
from clipzoo.core.data import Manifest, ManifestDataset
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.train import TrainConfig, Trainer


def _trainer(spec, manifest_path, out, **config):
    domain = get_domain("image")
    torch.manual_seed(0)
    clip = build_model(spec)
    dataset = ManifestDataset(Manifest.read(manifest_path), domain, domain.transform(spec, train=True))
    cfg = TrainConfig(**{"epochs": 2, "batch_size": 16, "warmup_steps": 2, "checkpoint_every": 3, **config})
    return Trainer(clip, domain, dataset, cfg, out)


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.clip.model.state_dict().items()}


def test_resume_from_checkpoint_ends_with_identical_weights(tiny_spec, image_demo, tmp_path):
    full = _trainer(tiny_spec, image_demo.train, tmp_path / "full")
    full.fit()
    expected = _weights(full)
    total = full.state.global_step
    assert total == 2 * (len(pd.read_csv(image_demo.train)) // 16)

    interrupted = _trainer(tiny_spec, image_demo.train, tmp_path / "cut", max_steps=None)
    interrupted.total_steps = 4  # stop mid-epoch, after a checkpoint at step 3 and one written at the stop
    interrupted.fit()
    assert interrupted.state.global_step == 4
    resumed = _trainer(tiny_spec, image_demo.train, tmp_path / "cut")
    resumed.fit()
    assert resumed.state.global_step == total
    for name, value in _weights(resumed).items():
        assert torch.equal(value, expected[name]), name
    assert resumed.state.step_losses == full.state.step_losses


def test_accumulation_gives_the_whole_batch_gradient(tiny_spec, image_demo, tmp_path):
    whole = _trainer(tiny_spec, image_demo.train, tmp_path / "a", max_steps=1)
    chunked = _trainer(tiny_spec, image_demo.train, tmp_path / "b", max_steps=1, accum_steps=4)
    batch = next(iter(whole._loader()))
    loss_whole = whole.train_step(batch["input"], batch["caption"])
    loss_chunked = chunked.train_step(batch["input"], batch["caption"])
    assert abs(loss_whole - loss_chunked) < 1e-5
    # Gradients, not weights: Adam's first step is lr * sign(g), which turns float noise on zero gradients
    # (e.g. attention key biases) into full-size steps.
    chunked_grads = _grads(chunked)
    for name, grad in _grads(whole).items():
        torch.testing.assert_close(chunked_grads[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def _grads(trainer):
    return {n: p.grad.clone() for n, p in trainer.clip.model.named_parameters() if p.grad is not None}


def test_locked_text_tower_is_cached_and_matches_uncached(tiny_lit_spec, image_demo, tmp_path):
    cached = _trainer(tiny_lit_spec, image_demo.train, tmp_path / "c", epochs=1, max_steps=2)
    plain = _trainer(tiny_lit_spec, image_demo.train, tmp_path / "p", epochs=1, max_steps=2, cache_locked_text=False)
    assert cached.text_cache is not None and plain.text_cache is None
    frozen = [n for n, p in cached.clip.model.named_parameters() if not p.requires_grad]
    assert any(n.startswith("text.transformer") for n in frozen)
    assert all(p.requires_grad for n, p in cached.clip.model.named_parameters() if n.startswith("text.proj"))
    cached.fit()
    plain.fit()
    torch.testing.assert_close(cached.state.step_losses, plain.state.step_losses, atol=1e-5, rtol=1e-5)
    assert cached.text_cache.misses == len(set(cached.dataset.captions[i] for i in _seen_rows(cached)))
    for name, value in _weights(plain).items():
        torch.testing.assert_close(_weights(cached)[name], value, atol=1e-5, rtol=1e-4, msg=name)


def _seen_rows(trainer):
    trainer.sampler.set_position(0, 0)
    rows = [row for row, _ in trainer.sampler]
    return rows[: trainer.state.global_step * trainer.config.batch_size]


def test_captions_in_pieces_train_on_their_pooled_embedding(tiny_spec, image_demo, tmp_path, monkeypatch):
    """A domain that splits long captions: each piece is encoded, pooled per caption, renormalised; accumulation
    still gives the whole batch's gradient."""
    from clipzoo.core.domain import Domain

    domain = get_domain("image")
    monkeypatch.setattr(type(domain), "caption_chunks", lambda self, clip, c: c.split(" and "), raising=False)
    assert type(domain).caption_chunks is not Domain.caption_chunks
    trainer = _trainer(tiny_spec, image_demo.train, tmp_path / "pieces", epochs=1)
    captions = ["a red star and a blue ring", "a green cross"]
    text, owners = trainer._text(captions)
    assert text.shape[0] == 3 and owners.tolist() == [0, 0, 1]
    images = torch.randn(2, 3, 32, 32)
    model = trainer.clip.model
    with torch.no_grad():
        _, pooled, _, _ = trainer.pair(images, text, owners)
        tokens = trainer.clip.tokenize(["a red star", "a blue ring", "a green cross"])
        pieces = model.encode_text(tokens, normalize=True)
    expected = torch.nn.functional.normalize(torch.stack([pieces[0] + pieces[1], pieces[2]]), dim=-1)
    torch.testing.assert_close(pooled, expected)

    grads = {}
    for accum in (1, 2):
        torch.manual_seed(0)
        tr = _trainer(tiny_spec, image_demo.train, tmp_path / f"a{accum}", accum_steps=accum, epochs=1, lr=0.0)
        tr.train_step(torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)), captions * 2)
        grads[accum] = {n: p.grad.clone() for n, p in tr.clip.model.named_parameters() if p.grad is not None}
    for name, grad in grads[1].items():
        torch.testing.assert_close(grads[2][name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_unlocked_text_layers_train_the_last_layers_only_and_skip_the_cache(tiny_lit_spec, image_demo, tmp_path):
    """``unlocked_text_layers=1``: the last MiniLM layer (and the projection) learn, the layers below stay as loaded;
    no text cache then, since the trunk's outputs change from step to step."""
    spec = tiny_lit_spec.replace(unlocked_text_layers=1)
    trainer = _trainer(spec, image_demo.train, tmp_path / "u", epochs=1, max_steps=3, lr=1e-3, text_lr=1e-5)
    assert trainer.text_cache is None and not spec.text_frozen
    layers = trainer.clip.model.text.transformer.encoder.layer
    lr_of = {id(p): g["initial_lr"] for g in trainer.optimizer.param_groups for p in g["params"]}
    assert {lr_of[id(p)] for p in layers[-1].parameters()} == {1e-5}  # the pretrained layer learns slowly
    assert lr_of[id(trainer.clip.model.text.proj.weight)] == 1e-3
    last, below = f"text.transformer.encoder.layer.{len(layers) - 1}.", "text.transformer.encoder.layer.0."
    before = _weights(trainer)
    trainer.fit()
    after = _weights(trainer)
    trainable = {n for n, p in trainer.clip.model.named_parameters() if p.requires_grad}
    assert any(n.startswith(last) for n in trainable) and not any(n.startswith(below) for n in trainable)
    assert not torch.equal(before[last + "attention.self.query.weight"], after[last + "attention.self.query.weight"])
    for name in (n for n in before if n.startswith((below, "text.transformer.embeddings."))):
        assert torch.equal(before[name], after[name]), name
