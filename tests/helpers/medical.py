"""A tiny medical model config for tests: a one-layer 32 px ViT per slice and a one-layer open_clip text tower."""

TINY_VIT = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def publish_tiny_medical(name: str) -> str:
    """A tiny untrained medical model, registered through the real publish path (never champion: metric -1);
    returns its version."""
    import mlflow
    import torch
    from clipzoo.core.domain import get_domain
    from clipzoo.core.model import build_model
    from clipzoo.domains.medical import wheel_ct_series
    from clipzoo.registry.publish import publish
    from clipzoo.registry.tracking import experiment_for

    spec = get_domain("medical").default_spec().replace(name=name, model_cfg=TINY_VIT, image_size=32)
    torch.manual_seed(0)
    clip = build_model(spec.replace(lock_text=False))
    experiment_for("medical")
    example = {"inputs": {"path": [str(wheel_ct_series())]}, "params": {"labels": ["nodule", "normal"]}}
    with mlflow.start_run(run_name=f"medical-{name}"):
        metric = {"findings_mean_auroc": -1.0}
        return publish(clip, "# tiny medical test model", {}, "findings_mean_auroc", metric, example).version
