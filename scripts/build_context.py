"""What a ``docker build`` of this repository would send and ``COPY . .`` would take.

Reads the root ``.dockerignore`` and applies it with docker-py's implementation of Docker's
rules (``docker.utils.build.exclude_paths``: the same pattern matcher docker-py uses to make the
context it uploads, a port of the Docker CLI's), so a pattern means here what it means to the
builder: anchored at the context's root, ``**`` for any depth, ``!`` to let back in, the last
match wins. Prints one path a line (files only, sorted); ``--check`` instead exits non-zero
naming anything that must never be in an image (tests/deploy/test_build_context.py runs it).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from pathlib import Path

from docker.utils.build import exclude_paths  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent

#: Paths (relative to the context, any depth) that must never be copied into a layer: local
#: state and secrets (var/: the secret key, the encryption key, demo.env, the SQLite database),
#: the repository and virtualenv, caches and test artefacts.
FORBIDDEN = (
    ".git",
    ".venv",
    "var",
    "media",
    "staticfiles",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "*.sqlite3",
    "*.sqlite3-*",
    "*.pyc",
    ".env",
    ".env.*",
    "*.env",
    "secret_key",
    "encryption_key",
    "*.key",
    "*.pem",
    "tests",
    "bench",
)


def dockerignore_patterns(root: Path) -> list[str]:
    """The patterns of ``root/.dockerignore`` as builders read them: one a line, trimmed,
    blank lines and ``#`` comments left out (docker-py's reading, the CLI's for these)."""
    path = root / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_files(root: Path = ROOT, *, dockerfile: str = "scripts/Dockerfile") -> list[str]:
    """The files (relative paths, sorted) the build context holds besides the Dockerfile,
    which every builder reads separately and ``COPY`` skips when it is ignored."""
    kept = exclude_paths(str(root), dockerignore_patterns(root), dockerfile=dockerfile)
    return sorted(
        path
        for path in kept
        if path != dockerfile and (root / path).is_file() and not (root / path).is_symlink()
    )


def forbidden_in(files: list[str]) -> list[str]:
    """The files whose path has a part matching one of ``FORBIDDEN``."""
    return [
        path
        for path in files
        if any(fnmatch.fnmatchcase(part, rule) for part in path.split("/") for rule in FORBIDDEN)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the build context (default: .)")
    parser.add_argument(
        "--check", action="store_true", help="fail naming any file that must not be in an image"
    )
    args = parser.parse_args(argv)
    files = context_files(args.root.resolve())
    if args.check:
        bad = forbidden_in(files)
        for path in bad:
            print(f"must not be in the image: {path}", file=sys.stderr)
        print(f"{len(files)} files in the build context, {len(bad)} forbidden", file=sys.stderr)
        return 1 if bad else 0
    sys.stdout.write("".join(f"{path}\n" for path in files))
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
