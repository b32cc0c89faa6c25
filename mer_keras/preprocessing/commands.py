"""``mer-keras prepare``: the command-line face of ``mer_keras.preprocessing.prepare``."""
from __future__ import annotations

import json

from ..argtypes import positive_int
from ..errors import ConfigError
from .defaults import FLOW_METHODS, ON_NO_FACE, REPRESENTATION_NAMES


def _value(text: str):
    """A --param value: JSON when it parses (3, 0.5, true, null, [..]), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="compute and cache a representation (flow, apex, ars, ...) for every manifest row",
        description="Align faces and compute a representation for every row of a manifest, in parallel; "
        "finished rows are cached and reused, a changed parameter recomputes.",
    )
    p.add_argument("--manifest", required=True, help="manifest CSV")
    p.add_argument("--representation", required=True, choices=REPRESENTATION_NAMES)
    p.add_argument("--cache", required=True, help="cache folder")
    p.add_argument("--size", type=int, help="output size in pixels (default 224; 134 for stacks)")
    p.add_argument("--flow-size", type=int, help="compute flow at this size, output at --size")
    p.add_argument("--flow-method", choices=FLOW_METHODS)
    p.add_argument("--grayscale", action="store_true", help="grayscale frames (apex, ars, rrs, stacks)")
    p.add_argument("--masks", help="comma-separated: eyes, static, nose")
    p.add_argument("--on-no-face", choices=ON_NO_FACE)
    p.add_argument("--redetect", action="store_true", help="re-detect landmarks on every frame")
    p.add_argument("--predictor", help="path to a dlib 68-point shape predictor (.dat)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="any other parameter, e.g. nscales=3, flow_bound=2.0, keyframes=slices (repeatable)")
    p.add_argument("--verify-cache", action="store_true",
                   help="hash every cached row's frame files and recompute rows whose frames changed (slow: reads "
                   "every frame; by default a frame is trusted while its size and modification time are)")
    p.add_argument("--allow-zero-motion", action="store_true",
                   help="prepare rows whose apex (or offset) is their onset frame, whose motion is zero")
    p.add_argument("--export-images", metavar="DIR",
                   help="flow only: also write STSTNet-style norm_u_v_os images (28x28 PNG; R, G, B = u, v, optical "
                   "strain, min-max per image) named <subject>_<clip>.png, with labels.csv, into DIR")
    p.add_argument("--n-jobs", type=positive_int, default=2)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_prepare)


def params_from_args(args) -> dict:
    params = {}
    for flag, name in (("size", "size"), ("flow_size", "flow_size"), ("flow_method", "flow_method"),
                       ("masks", "masks"), ("on_no_face", "on_no_face"), ("predictor", "predictor_path")):
        value = getattr(args, flag)
        if value is not None:
            params[name] = value
    if args.grayscale:
        params["grayscale"] = True
    if args.redetect:
        params["redetect"] = True
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param expects NAME=VALUE, got {item!r}")
        params[name.strip()] = _value(value.strip())
    return params


def run_prepare(args) -> int:
    from .prepare import prepare

    if args.export_images:  # checked before any flow is computed
        from .flow_images import check_export

        if args.representation != "flow":
            raise ConfigError(f"--export-images writes flow images; it needs --representation flow, not "
                              f"{args.representation}")
        check_export(args.manifest, args.export_images)
    result = prepare(args.manifest, args.representation, args.cache, n_jobs=args.n_jobs,
                     progress=not args.no_progress, verify_cache=args.verify_cache, allow_zero_motion=args.allow_zero_motion,
                     **params_from_args(args))
    shape = result[0].shape if len(result) else ()
    print(f"{args.representation}: {len(result)} row(s), {result.computed} computed, {result.reused} reused "
          f"from {args.cache}; each {shape} float32")
    if result.fallback_records:  # each was logged as a warning by prepare()
        print(f"{len(result.fallback_records)} fallback(s); listed in the cache as *.fallbacks.json")
    if args.export_images:
        from .flow_images import IMAGE_SIZE, LABEL_FILE, export_flow_images

        table = export_flow_images(args.manifest, args.export_images, args.cache, n_jobs=args.n_jobs,
                                   progress=not args.no_progress, verify_cache=args.verify_cache,
                                   allow_zero_motion=args.allow_zero_motion, **params_from_args(args))
        flat = int((table["flat_channels"] != "").sum())
        print(f"flow images: {len(table)} norm_u_v_os PNG(s) ({IMAGE_SIZE}x{IMAGE_SIZE}; R, G, B = u, v, strain, "
              f"min-max per image) and {LABEL_FILE} in {args.export_images}"
              + (f"; {flat} with a flat channel written as 0 (see {LABEL_FILE})" if flat else ""))
    return 0
