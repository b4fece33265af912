"""The ``clipzoo`` command: train, import, zoo, eval, predict, serve, demo, convert, catalogue, models, domains.

It parses arguments, calls one job of ``clipzoo.pipeline`` and prints. Errors a user can fix (a bad file, an unknown
model, an empty label list) print one clear line and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_USAGE = 2
# MLflow errors that mean the user's input was wrong (a bad payload, an unknown model), not that MLflow failed.
USER_ERROR_CODES = ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "BAD_REQUEST")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=None, help="epochs over the training data")
    p.add_argument("--batch-size", type=int, default=None, help="global batch per optimizer step")
    p.add_argument("--accum-steps", type=int, default=None, help="split each batch into chunks (same loss)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--text-lr", type=float, default=None, help="lr of the text tower's unlocked pretrained layers")
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--workers", type=int, default=None, help="DataLoader worker processes")
    p.add_argument("--checkpoint-every", type=int, default=None, help="optimizer steps between checkpoints")
    p.add_argument(
        "--local-loss", action="store_true", help="under torchrun: score local rows against the global batch"
    )
    p.add_argument(
        "--stage",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="a setting of one training stage (e.g. 2d.epochs=20, combiner.epochs=40)",
    )
    p.add_argument("--config", help="model spec (JSON/YAML); default: the domain's")
    p.add_argument("--output-dir", help="checkpoint folder; an existing one with a checkpoint is resumed")
    p.add_argument("--small", action="store_true", help="with demo data: the tiny variant (tests, smoke runs)")


SENSITIVITY_HELP = "with --heldout: each finding's threshold is set where its held-out sensitivity reaches this"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clipzoo", description="Domain-specialized CLIP models: train, register, serve."
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a domain's model (all its stages), evaluate zero-shot, register it")
    p.add_argument("domain")
    p.add_argument(
        "--data",
        required=True,
        help="training manifest (CSV/JSONL/Parquet), WebDataset shards (a .tar or a folder of them), or 'demo'",
    )
    p.add_argument("--heldout", help="held-out manifest for zero-shot evaluation (demo data brings its own)")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="the data of another stage (medical: train2d=slices.csv; fashion: train_triplets=triplets.csv)",
    )
    p.add_argument("--no-register", action="store_true", help="train and evaluate, but register nothing")
    p.add_argument("--name", help="register under the model line clipzoo-<domain>-<NAME> (its own champion)")
    p.add_argument("--sensitivity", type=float, default=0.90, help=SENSITIVITY_HELP)
    _add_train_options(p)

    p = sub.add_parser("import", help="register a published checkpoint (no training) under its own model line")
    p.add_argument(
        "source",
        help="hf-hub:ORG/REPO (in the HF cache), local-dir:FOLDER, a transformers CLIPModel folder, an open_clip "
        "architecture (with WEIGHTS), or a zoo entry name (clipzoo zoo list)",
    )
    p.add_argument("weights", nargs="?", help="a .pt/.safetensors state dict, after an open_clip architecture")
    p.add_argument("--domain", required=True)
    p.add_argument("--name", help="the model line: registered as clipzoo-<domain>-<NAME> (default: the zoo entry's)")
    p.add_argument("--heldout", help="held-out manifest: zero-shot metrics before registering")
    p.add_argument("--licence", help="the checkpoint's licence, written into the model card")
    p.add_argument("--folder", help="a folder holding a zoo entry's weight file (instead of the HF cache)")
    p.add_argument("--allow-download", action="store_true", help="fetch a missing checkpoint from the Hugging Face Hub")
    p.add_argument("--sensitivity", type=float, default=0.90, help=SENSITIVITY_HELP)

    p = sub.add_parser("adapt", help="few-shot adaptation without training (GDA, Tip-Adapter...), registered")
    p.add_argument("model", help="registered name, name@alias, name/version, run id or runs:/ URI")
    p.add_argument("--shots", required=True, help="manifest of labelled examples (a path column + the label column)")
    p.add_argument("--label-column", required=True, help="the shots' column holding each example's class")
    p.add_argument("--method", default="gda", choices=("gda", "tip", "proto", "linear"))
    p.add_argument("--name", help="the model line: clipzoo-<domain>-<NAME> (default <label-column>-<method>)")
    p.add_argument("--heldout", help="held-out manifest with the same column: adapted vs zero-shot before registering")
    p.add_argument("--seed", type=int, default=0, help="seed of the cross-validation split")
    p.add_argument("--sensitivity", type=float, default=0.90, help=SENSITIVITY_HELP)

    p = sub.add_parser("zoo", help="the catalogue of published domain checkpoints")
    zsub = p.add_subparsers(dest="zoo_command", required=True)
    zl = zsub.add_parser("list", help="every entry, its licence, paper, reported numbers and whether it is here")
    zl.add_argument("--domain")
    zl.add_argument("--folder", help="a folder where weight files were put by hand")

    p = sub.add_parser("eval", help="evaluate a registered model on a manifest or a benchmark (adapted: by its head)")
    p.add_argument("model", help="registered name, name@alias, name/version, run id or runs:/ URI")
    p.add_argument("--data", required=True, help="held-out manifest, or 'demo'; with --benchmark, the published folder")
    p.add_argument("--benchmark", help="a standard benchmark of the model's domain (clipzoo leaderboard lists them)")

    p = sub.add_parser("leaderboard", help="every registered version on each benchmark, beside published numbers")
    p.add_argument("--domain")
    p.add_argument("--benchmark")
    p.add_argument("--json", action="store_true", help="print JSON lines")

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

    p = sub.add_parser("embed", help="a registered model's embeddings of a manifest or shards, as Parquet files")
    p.add_argument("model", help="registered name, name@alias, name/version, run id or runs:/ URI")
    p.add_argument("--data", required=True, help="a manifest (CSV/JSONL/Parquet) or WebDataset shards (.tar, folder)")
    p.add_argument("--out", required=True, help="folder of Parquet files: one per shard, or per --rows-per-file rows")
    p.add_argument("--engine", default="local", choices=("local", "spark"))
    p.add_argument("--master", help="Spark master (default: the active session's, $SPARK_MASTER, else local[*])")
    p.add_argument("--rows-per-file", type=int, default=1000)
    p.add_argument("--key-column", help="a manifest column of unique ids to key rows by (default: row numbers)")
    p.add_argument("--task", help="store a domain's per-input features instead (pathology: slide -> one HDF5 each)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a task setting (JSON value)")

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

    p = sub.add_parser("convert", help="turn a public dataset layout into a manifest (no layout: list them)")
    p.add_argument("domain")
    p.add_argument("layout", nargs="?")
    p.add_argument("source", nargs="?", help="the dataset's folder or table")
    p.add_argument("out", nargs="?", help="the manifest (or folder) to write")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a layout option (JSON value)")

    p = sub.add_parser("catalogue", help="searchable catalogues of a model's embeddings (fashion: --task search)")
    csub = p.add_subparsers(dest="catalogue_command", required=True)
    cb = csub.add_parser("build", help="embed a manifest's items with a registered model and index them")
    cb.add_argument("model", help="registered model (pinned to one version in the catalogue)")
    cb.add_argument("manifest", help="manifest with path and id columns (fashion: product_id, title)")
    cb.add_argument("out", help="catalogue folder")
    cb.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="index setting: kind, nlist, nprobe..."
    )

    p = sub.add_parser("models", help="the model registry")
    msub = p.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list")
    ms = msub.add_parser("show", help="a version's model card, where it is stored, its metrics and tags")
    ms.add_argument("model")
    ms.add_argument("--card", action="store_true", help="print the model card only")
    ms.add_argument("--json", action="store_true", help="everything as one JSON object")
    mg = msub.add_parser("gate", help="decide a line's champion on a benchmark (no --benchmark: held-out data)")
    mg.add_argument("name")
    mg.add_argument("--benchmark")
    mp = msub.add_parser("promote")
    mp.add_argument("name")
    mp.add_argument("version")
    mp.add_argument("--alias", default="champion")

    sub.add_parser("domains", help="list installed domains")
    return parser


TRAIN_SETTINGS = (
    "epochs",
    "batch_size",
    "accum_steps",
    "lr",
    "text_lr",
    "warmup_steps",
    "max_steps",
    "seed",
    "checkpoint_every",
)


def _key_values(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs, each value read as JSON when it is JSON, else as text."""
    from clipzoo.core.errors import InputError

    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} needs KEY=VALUE, got {pair!r}")
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    return values


def _train_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The training settings given on the command line (the domain's defaults fill the rest)."""
    from clipzoo.core.errors import InputError

    settings: dict[str, Any] = {k: getattr(args, k) for k in TRAIN_SETTINGS if getattr(args, k) is not None}
    if args.workers is not None:
        settings["num_workers"] = args.workers
    if args.local_loss:
        settings["local_loss"] = True
    stages: dict[str, dict[str, Any]] = {}
    for key, value in _key_values(args.stage, "--stage").items():
        name, dot, setting = key.partition(".")
        if not dot or not setting:
            raise InputError(f"--stage needs NAME.KEY=VALUE, got {key!r}")
        stages.setdefault(name, {})[setting] = value
    if stages:
        settings["stages"] = stages
    return settings


def _spec(args: argparse.Namespace, domain):
    from clipzoo.core.spec import ModelSpec

    return ModelSpec.load(args.config) if args.config else domain.default_spec()


def _print_metrics(domain, metrics: dict[str, float]) -> None:
    for line in domain.format_metrics(metrics):
        print(line)


def _print_calibration(what: str, record: dict[str, Any] | None) -> None:
    if record:
        print(f"{what} calibrated: T = {record['temperature']:.4g} on {record['rows']} held-out rows of "
              f"{record['task']}; ECE {record['ece_before']:.4f} -> {record['ece_after']:.4f} "
              f"({record['ece_after_method']})")  # fmt: skip


def _print_points(points: dict[str, dict[str, Any]]) -> None:
    from clipzoo.core.operating_points import OperatingPoint

    for name, point in points.items():
        target = point["target_sensitivity"]
        print(f"  {name} at sensitivity {target:.2f}: {OperatingPoint.from_dict(point).describe()}")


def _print_trust(clip) -> None:
    """A registered version's calibration and operating points (``clipzoo.core.trust``), as recorded."""
    from clipzoo.core.trust import trust_record

    record = trust_record(clip)
    _print_calibration("zero-shot scores", record["calibration"])
    head = record["head"]
    if head is not None:
        _print_calibration("adapted head", head["calibration"])
    points = dict(record["operating_points"])
    if head is not None and head["operating_point"]:
        points[f"{head['column']} (adapted head)"] = head["operating_point"]
    if points:
        print("operating points (positive at P(present) >= threshold):")
        _print_points(points)


def _print_published(pub) -> None:
    _print_registration(pub)
    if pub.champion_note:
        print(f"  {pub.champion_note}")


def _print_registration(pub) -> None:
    if pub.primary_value is None:
        print(
            f"registered {pub.name} version {pub.version} (not evaluated)"
            + (" -> champion" if pub.champion else " (champion kept)")
        )
        return
    print(
        f"registered {pub.name} version {pub.version}; {pub.primary_metric} = {pub.primary_value:.4f}"
        + (" -> champion" if pub.champion else " (champion kept: it scores higher)")
    )


def cmd_train(args: argparse.Namespace) -> int:
    from clipzoo.core.domain import get_domain
    from clipzoo.core.stages import TRAIN_INPUT
    from clipzoo.pipeline.data import DEMO, demo_data
    from clipzoo.pipeline.demo import demo_inputs
    from clipzoo.pipeline.train import train, train_config

    domain = get_domain(args.domain)
    heldout = args.heldout
    if args.data == DEMO:
        data = demo_data(domain, small=args.small)
        inputs = {**demo_inputs(data), **_key_values(args.input, "--input")}
        heldout = heldout or data.heldout
        defaults = domain.demo_train_defaults(args.small)
    else:
        inputs = {TRAIN_INPUT: args.data, **_key_values(args.input, "--input")}
        defaults = {}
    result = train(
        domain,
        _spec(args, domain),
        {name: str(path) for name, path in inputs.items()},
        heldout=heldout,
        config=train_config(defaults, _train_settings(args)),
        output_dir=args.output_dir,
        register=not args.no_register,
        line=args.name,
        sensitivity=args.sensitivity,
    )
    if result.run_id:
        print(f"run {result.run_id} ({result.seconds:.0f} s); checkpoints in {result.output_dir}")
        for name, summary in result.stages.items():
            print(f"  stage {name}: {summary}")
        _print_metrics(domain, result.metrics)
    if result.published:
        _print_trust(result.clip)
        _print_published(result.published)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from clipzoo.core.domain import get_domain
    from clipzoo.pipeline.importer import import_model

    domain = get_domain(args.domain)
    result = import_model(
        domain,
        args.source,
        line=args.name,
        weights=args.weights,
        heldout=args.heldout,
        licence=args.licence,
        allow_download=args.allow_download,
        folder=args.folder,
        sensitivity=args.sensitivity,
    )
    src = result.source
    print(f"imported {src['source']} ({src['format']}, revision {src['revision'] or 'local'})")
    print(f"  licence: {src['licence'] or 'not stated: read the source model card'}")
    if src["restrictions"]:
        print(f"  RESTRICTIONS: {', '.join(src['restrictions'])}")
    spec = result.clip.spec
    print(
        f"  preprocessing: {spec.image_size} px, {spec.resize_mode}, {spec.interpolation}, "
        f"mean {list(spec.mean)}, std {list(spec.std)}"
    )
    _print_metrics(domain, result.metrics)
    _print_trust(result.clip)
    _print_published(result.published)
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    from clipzoo.pipeline.adapt import adapt

    result = adapt(
        args.model,
        args.shots,
        args.label_column,
        args.method,
        line=args.name,
        heldout=args.heldout,
        seed=args.seed,
        sensitivity=args.sensitivity,
    )
    head, info = result.head, result.head.info
    print(f"adapted {result.source}: {head.describe()} ({info['shots']} shots, column {info['label_column']!r})")
    print(f"  classes: {', '.join(head.classes)}")
    cv = f", cross-validated accuracy {info['cv_accuracy']:.4f}" if info["cv_accuracy"] is not None else ""
    print(f"  setting {info['setting'] or '-'}, blend {info['relative_blend']} ({info['selection']}{cv})")
    print(f"  fitted in {info['fit_seconds']:.3f} s")
    for key in sorted(result.metrics):
        print(f"  {key:36s} {result.metrics[key]:.4f}")
    _print_trust(result.clip)
    _print_published(result.published)
    return 0


def cmd_zoo(args: argparse.Namespace) -> int:
    from clipzoo.pipeline.zoo import list_zoo

    rows = list_zoo(args.domain, args.folder)
    if not rows:
        print("no zoo entries" + (f" for domain {args.domain!r}" if args.domain else ""))
    domain = None
    for status in rows:
        e = status.entry
        if e.domain != domain:
            domain = e.domain
            print(f"{domain}:")
        mark = "here" if status.present else ("-" if e.importable else "not importable")
        print(f"  {e.name:22s} [{mark}] {e.title}")
        what = f"{e.source}" + (f" file {e.file} ({e.architecture})" if e.file else "")
        print(f"    source:  {what}  format: {e.format}")
        print(f"    licence: {e.licence_text}" + (f"  {e.licence_url}" if e.licence_url else ""))
        if e.paper:
            print(f"    paper:   {e.paper}")
        for r in e.reported:
            print(f"    reported: {r.task} {r.metric} = {r.value} ({r.source})")
        if not e.reported:
            print("    reported: no number recorded here (see the paper)")
        print(f"    {'at' if status.present else 'status'}: {status.where}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.benchmark:
        return _eval_benchmark(args)
    from clipzoo.pipeline.evaluate import evaluate_registered

    domain, report = evaluate_registered(args.model, args.data)
    _print_metrics(domain, report.metrics)
    for note in report.notes:  # an adapted model: which numbers its head gives
        print(f"scored by: {note}")
    return 0


def _eval_benchmark(args: argparse.Namespace) -> int:
    from clipzoo.pipeline.benchmark import evaluate_on_benchmark

    result = evaluate_on_benchmark(args.model, args.benchmark, args.data)
    bench = result.benchmark
    print(f"{bench.title} ({bench.name}): {result.model} on {result.rows} rows, manifest {result.manifest_sha256[:16]}")
    print(f"  scored by: {result.report.note or result.report.scored_by}")
    for key in sorted(result.report.metrics):
        mark = "  <- " + bench.metric if key == bench.metric else ""
        print(f"  {key:36s} {result.report.metrics[key]:.4f}{mark}")
    for anchor in bench.anchors:
        print(f"  published: {anchor.model} {bench.metric} = {anchor.value} ({anchor.source})")
    print(f"logged as run {result.run_id}")
    if result.champion_note:
        print(result.champion_note)
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from clipzoo.pipeline.leaderboard import leaderboard, log_leaderboard

    boards = leaderboard(args.domain, args.benchmark)
    run_id = log_leaderboard(boards)
    if args.json:
        for board in boards:
            for row in board.to_rows():
                print(json.dumps(row))
        return 0
    if not boards:
        print("no benchmarks" + (f" for domain {args.domain!r}" if args.domain else ""))
    for board in boards:
        bench = board.benchmark
        where = f"manifest {board.manifest_sha256[:16]}" if board.manifest_sha256 else "nothing measured here yet"
        print(f"{bench.domain} / {bench.name}: {bench.title}  [{bench.metric}; {where}]")
        for e in board.entries:
            value = f"{e.value:.4f}" if e.value is not None else "-"
            mark = f"published ({e.source})" if e.published else f"{e.source} ({e.scored_by})"
            print(f"  {e.model:40s} {value:>8s}  {mark}")
    if run_id:
        print(f"logged as the MLflow table leaderboard.json of run {run_id}")
    return 0


_SHOWN = ("input", "labels", "scores", "error", "embedding", "warnings")


def cmd_predict(args: argparse.Namespace) -> int:
    from clipzoo.pipeline.predict import input_frame, predict

    params = {
        "labels": args.labels,
        "templates": args.templates,
        "task": args.task,
        "top_k": args.top_k,
        "return_embeddings": args.embeddings,
        "catalogue": os.path.abspath(args.catalogue) if args.catalogue else "",
        "options": json.dumps(_key_values(args.option, "--option")),
    }
    frame = input_frame(args.files, args.text)
    rows = predict(args.model, frame, params)
    failed = 0
    for row in rows:
        if args.json:
            print(json.dumps({k: v for k, v in row.items() if not (k == "embedding" and v is None)}, default=float))
        elif row.get("error"):
            error = str(row["error"])  # errors name their input already
            named = error.startswith(str(row["input"])) or not str(row["input"]).strip()
            print(f"ERROR {error}" if named else f"{row['input']}: ERROR {error}", file=sys.stderr)
        else:
            ranked = ", ".join(f"{lb} ({s:.3f})" for lb, s in zip(row["labels"], row["scores"], strict=True))
            extra = {k: v for k, v in row.items() if k not in _SHOWN and v is not None}
            details = ("  " + json.dumps(extra, default=str)) if extra else ""
            print(f"{row['input']}: {ranked or 'embedded'}{details}")
        if not args.json:
            for warning in row.get("warnings") or ():
                print(f"{row['input']}: warning: {warning}", file=sys.stderr)
        failed += bool(row.get("error"))
    return EXIT_USAGE if failed else 0


def cmd_embed(args: argparse.Namespace) -> int:
    from clipzoo.pipeline.embed import embed, embed_features

    if args.task:
        stored = embed_features(args.model, args.data, args.out, args.task, _key_values(args.option, "--option"))
        for error in stored.errors:
            print(f"ERROR {error}", file=sys.stderr)
        print(f"{len(stored.written)} {args.task} features file(s) written, {len(stored.skipped)} up to date, "
              f"{len(stored.errors)} in error, in {args.out} ({stored.seconds:.1f} s)")  # fmt: skip
        return EXIT_USAGE if stored.errors else 0

    result = embed(args.model, args.data, args.out, engine=args.engine, rows_per_file=args.rows_per_file,
                   key_column=args.key_column, master=args.master)  # fmt: skip
    print(
        f"{result.model.ref}: {len(result.written)} file(s) written ({result.rows} rows, {result.errors} in error), "
        f"{len(result.skipped)} already complete, in {args.out} ({result.seconds:.1f} s, engine {args.engine})"
    )
    return EXIT_USAGE if result.errors else 0


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
    from clipzoo.core.domain import get_domain
    from clipzoo.pipeline.demo import demo

    domain = get_domain(args.domain)
    outcome = demo(
        domain,
        _train_settings(args),
        small=args.small,
        spec=_spec(args, domain),
        output_dir=args.output_dir,
        announce=lambda line: print(line, flush=True),
    )
    result = outcome.result
    for name, summary in result.stages.items():
        print(f"  stage {name}: {summary}")
    seconds = f"{result.seconds:.0f} s of training and evaluation"
    print(f"\nheld-out zero-shot, prompt wordings absent from training ({seconds}):")
    _print_metrics(domain, result.metrics)
    if result.published is None:
        return 0
    print()
    _print_published(result.published)
    failed = 0
    for query, row in outcome.answers:
        print(f"\n{query.header}" if query.header else "")
        print(query.command)
        if row.get("error"):
            print(f"  ERROR {row['error']}", file=sys.stderr)
            failed += 1
            continue
        for line in query.describe(row):
            print(line)
    return EXIT_USAGE if failed else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from clipzoo.core.domain import get_domain
    from clipzoo.core.errors import InputError
    from clipzoo.pipeline.convert import convert, converter_options

    domain = get_domain(args.domain)
    if args.layout is None:
        for name, converter in sorted(domain.converters().items()):
            options = ", ".join(converter_options(converter)) or "none"
            print(f"{name:14s} {converter.description}  (options: {options})")
        return 0
    if args.source is None or args.out is None:
        raise InputError(f"give the source and the output: clipzoo convert {domain.name} {args.layout} SRC OUT")
    print(convert(domain, args.layout, args.source, args.out, _key_values(args.option, "--option")))
    return 0


def cmd_catalogue(args: argparse.Namespace) -> int:
    from clipzoo.pipeline.catalogue import build_catalogue

    print(build_catalogue(args.model, args.manifest, args.out, _key_values(args.option, "--option")))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from clipzoo.registry import catalog

    if args.models_command == "list":
        rows = catalog.list_models()
        if not rows:
            print("no registered models")
        domain = None
        for r in rows:
            if r["domain"] != domain:
                domain = r["domain"]
                print(f"{domain}:")
            aliases = ", ".join(f"{a}->v{v}" for a, v in r["aliases"].items()) or "-"
            line = f"line {r['line']}" if r["line"] else "default line"
            print(
                f"  {r['name']:34s} {line:24s} versions={r['versions']:<3d} latest=v{r['latest']}  aliases: {aliases}"
            )
    elif args.models_command == "show":
        _print_model(catalog.show_model(args.model), card_only=args.card, as_json=args.json)
    elif args.models_command == "gate":
        from clipzoo.pipeline.benchmark import gate_line

        print(gate_line(args.name, args.benchmark))
    else:
        catalog.promote(args.name, args.version, alias=args.alias)
        print(f"{args.name}@{args.alias} -> version {args.version}")
    return 0


def _print_model(info: dict[str, Any], card_only: bool, as_json: bool) -> None:
    """``models show``: the card, then where the model is, its aliases, metrics and tags (or all as JSON)."""
    card = info.get("card") or "(this version has no model card)"
    if as_json:
        print(json.dumps(info, indent=2, default=str))
        return
    print(card.rstrip())
    if card_only:
        return
    print(f"\n---\n{info.get('name', '')} version {info.get('version', '')}".rstrip())
    print(f"  model URI:    {info['uri']}")
    if info.get("artifact_uri"):
        print(f"  artifact URI: {info['artifact_uri']}")
    if info.get("run_id"):
        print(f"  run:          {info['run_id']}")
    print(f"  aliases:      {', '.join(info.get('aliases') or []) or '-'}")
    for key, value in sorted((info.get("metrics") or {}).items()):
        print(f"  metric {key} = {value:.4f}")
    for key, value in sorted((info.get("tags") or {}).items()):
        print(f"  tag {key} = {value}")


def cmd_domains(args: argparse.Namespace) -> int:
    from clipzoo.core.domain import available_domains, get_domain
    from clipzoo.core.errors import ClipzooError

    for name in available_domains():
        try:
            domain = get_domain(name)
        except ClipzooError as err:
            print(f"{name:16s} unavailable: {err}")
            continue
        print(f"{name:16s} {domain.modality:16s} reads {' '.join(domain.file_suffixes) or 'any file'}")
    return 0


# Commands whose job opens the MLflow store itself, once its cheap checks pass (a missing file is reported without
# importing MLflow at all); the others get the store configured up front.
STORE_ON_DEMAND = ("predict",)

COMMANDS = {
    "train": cmd_train,
    "import": cmd_import,
    "adapt": cmd_adapt,
    "zoo": cmd_zoo,
    "eval": cmd_eval,
    "leaderboard": cmd_leaderboard,
    "predict": cmd_predict,
    "embed": cmd_embed,
    "serve": cmd_serve,
    "demo": cmd_demo,
    "convert": cmd_convert,
    "catalogue": cmd_catalogue,
    "models": cmd_models,
    "domains": cmd_domains,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from clipzoo.core.errors import ClipzooError

    if not args.verbose:  # set before transformers is imported (only on the paths that need it: ~0.5 s)
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if args.command not in STORE_ON_DEMAND:
        from clipzoo.registry.tracking import configure

        configure()
    try:
        return COMMANDS[args.command](args)
    except ClipzooError as err:
        print(f"clipzoo: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        mlflow_exceptions = sys.modules.get("mlflow.exceptions")  # imported by whatever raised an MLflow error
        if mlflow_exceptions is None or not isinstance(err, mlflow_exceptions.MlflowException):
            raise
        if err.error_code not in USER_ERROR_CODES:
            raise
        print(f"clipzoo: error: {err.message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
