"""``mer-keras synth``: write the SynthME synthetic corpus (micro, or ``--macro``) into a folder.

Exit status: 0 written (or already there with the same arguments); 2 bad arguments or a folder
holding something else.
"""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="generate the SynthME synthetic micro-expression corpus (CASME II layout) or its macro counterpart",
        description="Write SynthME: distinct synthetic subjects built from face photographs shipped with "
        "scikit-image and matplotlib, each clip a neutral onset, a rise to an apex and a decay with "
        "action-unit motion of 0.3-2 px, plus blinks, head motion, flicker and noise. The micro corpus is "
        "laid out like CASME II (read it with `mer-keras manifest synthme --root DIR`); --macro writes "
        "posed expressions in the CK+ layout (`manifest synthme-macro`). Deterministic for a seed.",
    )
    p.add_argument("--out", required=True, help="folder to write (created; must be empty or hold the same corpus)")
    p.add_argument("--subjects", type=int, default=14, help="number of subjects (default 14; at most about 46)")
    p.add_argument("--clips-per-subject", type=int, default=10, help="clips (sequences) per subject (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same bytes")
    p.add_argument("--size", type=int, default=224, help="frame width and height in pixels (default 224)")
    p.add_argument("--macro", action="store_true",
                   help="write the macro-expression counterpart (CK+ layout, identities disjoint from the micro corpus)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args) -> int:
    from .synthme import generate

    try:
        root = generate(args.out, subjects=args.subjects, clips_per_subject=args.clips_per_subject,
                        seed=args.seed, size=args.size, macro=args.macro, progress=not args.quiet)
    except (ValueError, FileExistsError, NotADirectoryError) as e:
        print(f"mer-keras synth: {e}", file=sys.stderr)
        return 2
    print(root)
    return 0
