"""The ``clipzoo`` command: train, eval, predict, serve, demo, models, domains.

Errors a user can fix (a bad file, an unknown model, an empty label list) print one clear line and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

EXIT_USAGE = 2
# MLflow errors that mean the user's input was wrong (a bad payload, an unknown model), not that MLflow failed.
USER_ERROR_CODES = ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "BAD_REQUEST")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=None, help="epochs over the training manifest")
    p.add_argument("--batch-size", type=int, default=None, help="global batch per optimizer step")
    p.add_argument("--accum-steps", type=int, default=1, help="split each batch into chunks (same loss as the whole)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--text-lr", type=float, default=None, help="lr of the text tower's unlocked pretrained layers")
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--checkpoint-every", type=int, default=50, help="optimizer steps between checkpoints")
    p.add_argument(
        "--local-loss", action="store_true", help="under torchrun: score local rows against the global batch"
    )
    p.add_argument("--config", help="model spec (JSON/YAML); default: the domain's")
    p.add_argument("--output-dir", help="checkpoint folder; an existing one with a checkpoint is resumed")
    p.add_argument("--small", action="store_true", help="with demo data: the tiny variant (tests, smoke runs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clipzoo", description="Domain-specialized CLIP models: train, register, serve."
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a domain's model, evaluate zero-shot, register it")
    p.add_argument("domain")
    p.add_argument(
        "--data",
        required=True,
        help="training manifest (CSV/JSONL/Parquet), WebDataset shards (a .tar or a folder of them), or 'demo'",
    )
    p.add_argument("--heldout", help="held-out manifest for zero-shot evaluation (demo data brings its own)")
    p.add_argument("--no-register", action="store_true", help="train and evaluate, but register nothing")
    _add_train_options(p)

    p = sub.add_parser("eval", help="zero-shot evaluation of a registered model on a manifest")
    p.add_argument("model", help="registered name, name@alias, name/version, run id or runs:/ URI")
    p.add_argument("--data", required=True, help="held-out manifest, or 'demo'")

    p = sub.add_parser("predict", help="zero-shot prediction on files with a registered model")
    p.add_argument("model", help="registered name, name@alias, name/version, run id or runs:/ URI")
    p.add_argument("files", nargs="*", help="input files (none when the query is --text alone)")
    p.add_argument("--labels", nargs="*", default=[], help="candidate labels")
    p.add_argument("--templates", nargs="*", default=[], help="prompt templates with {} (default: the domain's)")
    p.add_argument("--task", default="classify", help="classify, embed, or a domain task (e.g. search, slide)")
    p.add_argument(
        "--text", action="append", default=[], help="a text query; with files, the text that goes with each file"
    )
    p.add_argument("--catalogue", help="a folder the task reads (e.g. a product index for --task search)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a task setting (JSON value)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--embeddings", action="store_true", help="include embeddings in the output")
    p.add_argument("--json", action="store_true", help="print JSON lines")

    p = sub.add_parser("serve", help="serve a registered model with MLflow's scoring server")
    p.add_argument("model")
    p.add_argument("--host", default="127.0.0.1", help="beyond loopback only behind a proxy that authenticates")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--data-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder whose files requests may name as 'path' (repeatable); none: only base64 'data' and 'text'",
    )
    p.add_argument("--timeout", type=int, default=60, help="seconds a request may take (504, and its work stops)")
    p.add_argument("--max-body-mb", type=float, default=32, help="largest request body (413 beyond)")
    p.add_argument("--max-rows", type=int, default=64, help="most inputs in one request")
    p.add_argument("--max-pixels", type=int, default=40_000_000, help="largest width*height of an image input")
    p.add_argument("--max-labels", type=int, default=256, help="most labels (or templates) in one request")

    p = sub.add_parser("demo", help="end to end on bundled synthetic data: train, evaluate, register, predict")
    p.add_argument("domain")
    _add_train_options(p)

    p = sub.add_parser("models", help="the model registry")
    msub = p.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list")
    ms = msub.add_parser("show")
    ms.add_argument("model")
    mp = msub.add_parser("promote")
    mp.add_argument("name")
    mp.add_argument("version")
    mp.add_argument("--alias", default="champion")

    sub.add_parser("domains", help="list installed domains")
    return parser


def _train_config(args: argparse.Namespace, defaults: dict | None = None):
    from clipzoo.core.train import TrainConfig

    values = dict(defaults or {})
    for key, attr in [
        ("epochs", "epochs"),
        ("batch_size", "batch_size"),
        ("lr", "lr"),
        ("text_lr", "text_lr"),
        ("warmup_steps", "warmup_steps"),
    ]:
        if getattr(args, attr) is not None:
            values[key] = getattr(args, attr)
    return TrainConfig(
        accum_steps=args.accum_steps,
        max_steps=args.max_steps,
        seed=args.seed,
        num_workers=args.workers,
        checkpoint_every=args.checkpoint_every,
        local_loss=args.local_loss,
        **values,
    )


def _print_metrics(metrics: dict[str, float]) -> None:
    for key in sorted(metrics):
        print(f"  {key:32s} {metrics[key]:.4f}")


def cmd_train(args: argparse.Namespace) -> int:
    from clipzoo.cli.jobs import train_job
    from clipzoo.core.domain import get_domain

    domain = get_domain(args.domain)
    defaults = domain.demo_train_defaults(args.small) if args.data == "demo" else {}
    result = train_job(
        args.domain,
        args.data,
        heldout=args.heldout,
        spec_path=args.config,
        config=_train_config(args, defaults),
        output_dir=args.output_dir,
        register=not args.no_register,
        small_demo=args.small,
    )
    if result.run_id:
        print(f"run {result.run_id} ({result.seconds:.0f} s); checkpoints in {result.output_dir}")
        _print_metrics(result.metrics)
    if result.published:
        pub = result.published
        print(f"registered {pub.name} version {pub.version}" + (" -> champion" if pub.champion else ""))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from clipzoo.cli.jobs import demo_data
    from clipzoo.core.data import Manifest
    from clipzoo.core.domain import get_domain
    from clipzoo.core.evaluate import evaluate
    from clipzoo.registry.loading import load_clip

    clip = load_clip(args.model)
    domain = get_domain(clip.spec.domain)
    manifest = Manifest.read(demo_data(domain).heldout if args.data == "demo" else args.data)
    report = evaluate(clip, domain, manifest)
    _print_metrics(report.metrics)
    return 0


def _input_frame(files: Sequence[str], texts: Sequence[str]):
    """One row per file (each with the one --text, or its own when as many are given), or per text alone."""
    import pandas as pd
    from clipzoo.core.errors import InputError

    if not files:
        if not texts:
            raise InputError("nothing to predict: give files, --text, or both")
        return pd.DataFrame({"text": list(texts)})
    frame = pd.DataFrame({"path": [os.path.abspath(f) for f in files]})
    if texts:
        if len(texts) not in (1, len(files)):
            raise InputError(f"give one --text for all files or one per file ({len(files)}), not {len(texts)}")
        frame["text"] = list(texts) * (len(files) if len(texts) == 1 else 1)
    return frame


def _options(pairs: Sequence[str]) -> str:
    from clipzoo.core.errors import InputError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--option needs KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return json.dumps(options)


def _predict_rows(model: str, frame, params: dict) -> list[dict]:
    from clipzoo.registry.loading import load_pyfunc

    return load_pyfunc(model).predict(frame, params=params).to_dict("records")


_SHOWN = ("input", "labels", "scores", "error", "embedding")


def cmd_predict(args: argparse.Namespace) -> int:
    params = {
        "labels": args.labels,
        "templates": args.templates,
        "task": args.task,
        "top_k": args.top_k,
        "return_embeddings": args.embeddings,
        "catalogue": os.path.abspath(args.catalogue) if args.catalogue else "",
        "options": _options(args.option),
    }
    rows = _predict_rows(args.model, _input_frame(args.files, args.text), params)
    failed = 0
    for row in rows:
        if args.json:
            print(json.dumps({k: v for k, v in row.items() if not (k == "embedding" and v is None)}, default=float))
        elif row.get("error"):
            print(f"{row['input']}: ERROR {row['error']}", file=sys.stderr)
        else:
            ranked = ", ".join(f"{lb} ({s:.3f})" for lb, s in zip(row["labels"], row["scores"], strict=True))
            extra = {k: v for k, v in row.items() if k not in _SHOWN and v is not None}
            details = ("  " + json.dumps(extra, default=str)) if extra else ""
            print(f"{row['input']}: {ranked or 'embedded'}{details}")
        failed += bool(row.get("error"))
    return EXIT_USAGE if failed else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from clipzoo.registry.limits import ServeLimits
    from clipzoo.registry.serving import plan_serving

    limits = ServeLimits(
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_rows=args.max_rows,
        max_pixels=args.max_pixels,
        max_labels=args.max_labels,
        timeout_s=args.timeout,
    ).with_roots(args.data_root)
    plan = plan_serving(args.model, limits, host=args.host, port=args.port, workers=args.workers)
    if plan.warning:
        print(plan.warning, file=sys.stderr)
    print("serving (verified):", " ".join(plan.command), file=sys.stderr, flush=True)
    os.execvpe(plan.command[0], plan.command, plan.env)
    return 0  # not reached


def cmd_demo(args: argparse.Namespace) -> int:
    from clipzoo.cli.jobs import demo_job

    return demo_job(args.domain, args)


def cmd_models(args: argparse.Namespace) -> int:
    from clipzoo.registry import catalog

    if args.models_command == "list":
        rows = catalog.list_models()
        if not rows:
            print("no registered models")
        for r in rows:
            aliases = ", ".join(f"{a}->v{v}" for a, v in r["aliases"].items()) or "-"
            print(f"{r['name']:28s} versions={r['versions']:<3d} latest=v{r['latest']}  aliases: {aliases}")
    elif args.models_command == "show":
        print(json.dumps(catalog.show_model(args.model), indent=2, default=str))
    else:
        catalog.promote(args.name, args.version, alias=args.alias)
        print(f"{args.name}@{args.alias} -> version {args.version}")
    return 0


def cmd_domains(args: argparse.Namespace) -> int:
    from clipzoo.core.domain import available_domains, get_domain
    from clipzoo.core.errors import ClipzooError

    for name in available_domains():
        try:
            print(f"{name:16s} {get_domain(name).modality}")
        except ClipzooError as err:
            print(f"{name:16s} unavailable: {err}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "eval": cmd_eval,
    "predict": cmd_predict,
    "serve": cmd_serve,
    "demo": cmd_demo,
    "models": cmd_models,
    "domains": cmd_domains,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from clipzoo.core.errors import ClipzooError
    from clipzoo.registry.tracking import configure

    configure()
    if not args.verbose:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    from mlflow.exceptions import MlflowException

    try:
        return COMMANDS[args.command](args)
    except ClipzooError as err:
        print(f"clipzoo: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except MlflowException as err:
        if err.error_code not in USER_ERROR_CODES:
            raise
        print(f"clipzoo: error: {err.message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
