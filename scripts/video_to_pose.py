"""Video -> .pose: MediaPipe Holistic (the legacy solution, offline) run on every frame, written by pose-format.

Runs in its OWN environment, not clipzoo's: the legacy ``mp.solutions.holistic``, whose models ship inside the wheel,
needs ``mediapipe==0.10.21`` (numpy<2, protobuf<5), which clipzoo's pins (numpy 2, protobuf 7) exclude. Install it
with ``pip install -r scripts/requirements-mediapipe.txt`` in a fresh venv. The script reads the video with OpenCV
(frames streamed, BGR -> RGB), runs Holistic through pose-format's ``load_holistic`` and writes the MediaPipe
Holistic layout: ``--layout holistic`` (default) keeps all 576 points (body 33, face 468, hands 2 x 21, world 33),
``--layout reduced`` applies pose-format's ``reduce_holistic`` (178 points, SignCLIP's reduction without the body's
face/finger/leg points). clipzoo's sign_language reader takes either.

Nothing is downloaded: only ``--model-complexity 1`` has its pose model inside the wheel (0 and 2 would make
mediapipe fetch one); the script refuses them unless their file is already in the mediapipe package.

  ~/.venvs/mediapipe/bin/python scripts/video_to_pose.py clip.mp4 [-o clip.pose]
  ~/.venvs/mediapipe/bin/python scripts/video_to_pose.py videos/*.mp4 --out-dir poses/ [--layout reduced]

Exit codes: 0 every video written; 2 the extra is not installed, bad arguments, or a video failed (each failure is one
line naming the video; the other videos are still written).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEDIAPIPE_VERSION = "0.10.21"
REQUIREMENTS = Path(__file__).resolve().with_name("requirements-mediapipe.txt")
POSE_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
COMPONENTS = {
    "body": "POSE_LANDMARKS",
    "face": "FACE_LANDMARKS",
    "left hand": "LEFT_HAND_LANDMARKS",
    "right hand": "RIGHT_HAND_LANDMARKS",
}


class SetupError(Exception):
    """The extra's environment is missing or cannot run offline."""


class VideoError(Exception):
    """One video could not be turned into a pose."""


@dataclass(frozen=True)
class Backend:
    cv2: Any
    load_holistic: Any
    reduce_holistic: Any


def load_backend(model_complexity: int) -> Backend:
    """Import OpenCV, mediapipe and pose-format's Holistic utilities, or explain how to install them."""
    install = f"install the extra in its own venv: pip install -r {REQUIREMENTS}"
    try:
        import cv2
        import mediapipe as mp
    except Exception as err:  # ImportError, or mediapipe built for numpy 1 failing under numpy 2
        name = getattr(err, "name", None) or "mediapipe"
        raise SetupError(
            f"{name} is not importable ({type(err).__name__}: {err}); "
            f"video -> pose needs mediapipe=={MEDIAPIPE_VERSION}: {install}"
        ) from err
    if not hasattr(mp, "solutions"):
        raise SetupError(
            f"mediapipe {getattr(mp, '__version__', '?')} has no legacy Holistic solution "
            f"(mp.solutions); it needs mediapipe=={MEDIAPIPE_VERSION}: {install}"
        )
    try:
        from pose_format.utils.generic import reduce_holistic
        from pose_format.utils.holistic import load_holistic
    except ImportError as err:
        raise SetupError(f"pose-format's Holistic utilities are not importable ({err}): {install}") from err
    model = Path(mp.__file__).parent / "modules" / "pose_landmark" / POSE_MODELS[model_complexity]
    if not model.is_file():
        raise SetupError(
            f"--model-complexity {model_complexity} needs {model}, which mediapipe would download; "
            "this script never downloads: use --model-complexity 1 (its model ships in the wheel)"
        )
    return Backend(cv2=cv2, load_holistic=load_holistic, reduce_holistic=reduce_holistic)


def read_frames(cv2: Any, video: Path) -> tuple[Iterator[Any], float, int, int]:
    """Open ``video`` with OpenCV: an iterator over its RGB frames, its fps and the frame width and height."""
    if not video.is_file():
        raise VideoError("file not found")
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise VideoError("OpenCV cannot open it as a video")
    fps = float(capture.get(cv2.CAP_PROP_FPS))

    def frames() -> Iterator[Any]:
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()

    stream = frames()
    first = next(stream, None)
    if first is None:
        raise VideoError("video has zero readable frames")
    height, width = first.shape[:2]
    return itertools.chain([first], stream), fps, width, height


def detected(pose: Any) -> str:
    """How many frames each Holistic component was found in (MediaPipe gives confidence 0 where it found none)."""
    start, counts = 0, []
    for component in pose.header.components:
        end = start + len(component.points)
        label = next((k for k, v in COMPONENTS.items() if v == component.name), None)
        if label:
            found = int((pose.body.confidence[:, 0, start:end] > 0).any(-1).sum())
            counts.append(f"{label} {found}")
        start = end
    return ", ".join(counts)


def video_to_pose(backend: Backend, video: Path, out: Path, args: argparse.Namespace) -> str:
    """Run Holistic on ``video``, write ``out`` atomically; returns a one-line summary."""
    frames, fps, width, height = read_frames(backend.cv2, video)
    if args.fps:
        fps = args.fps
    if not fps > 0:
        raise VideoError(f"the video reports no frame rate ({fps}); pass --fps")
    config = {"model_complexity": args.model_complexity, "refine_face_landmarks": False, "static_image_mode": False}
    try:
        pose = backend.load_holistic(
            frames,
            fps=fps,
            width=width,
            height=height,
            progress=args.progress,
            additional_holistic_config=config,
            reuse=False,
        )
    except Exception as err:  # mediapipe raises RuntimeError/ValueError on frames it cannot process
        raise VideoError(f"MediaPipe Holistic failed ({type(err).__name__}: {err})") from err
    if args.layout == "reduced":
        pose = backend.reduce_holistic(pose)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as f:
        pose.write(f)
    os.replace(tmp, out)
    frames_n, points = pose.body.data.shape[0], pose.header.total_points()
    return (
        f"{video} -> {out}: {frames_n} frames at {fps:g} fps, {width}x{height}, {points} points; "
        f"found in frames: {detected(pose)}"
    )


def output_path(video: Path, args: argparse.Namespace) -> Path:
    if args.output:
        return args.output
    if args.out_dir:
        return args.out_dir / f"{video.stem}.pose"
    return video.with_suffix(".pose")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="+", type=Path, help="video files OpenCV can read (.mp4, .avi, .mov, ...)")
    p.add_argument("-o", "--output", type=Path, help="the .pose to write (one video only); default <video>.pose")
    p.add_argument("--out-dir", type=Path, help="write <out-dir>/<video stem>.pose")
    p.add_argument("--layout", choices=("holistic", "reduced"), default="holistic")
    p.add_argument("--model-complexity", type=int, choices=sorted(POSE_MODELS), default=1)
    p.add_argument("--fps", type=float, help="override the frame rate the video reports")
    p.add_argument("--progress", action="store_true", help="show a progress bar per video")
    args = p.parse_args(argv)
    if args.output and len(args.videos) > 1:
        p.error("-o/--output takes one video; use --out-dir for several")
    if args.output and args.out_dir:
        p.error("give -o/--output or --out-dir, not both")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        backend = load_backend(args.model_complexity)
    except SetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = 0
    for video in args.videos:
        try:
            print(video_to_pose(backend, video, output_path(video, args), args), flush=True)
        except VideoError as err:
            failed += 1
            print(f"error: {video}: {err}", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
