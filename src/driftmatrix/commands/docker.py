"""``driftmatrix docker setup``: install/start the engine and build the Python base images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftmatrix.commands._shared import log
from driftmatrix.errors import EXIT_INFRA, BuildError, UsageError
from driftmatrix.paths import cache_dir


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``docker`` (and ``docker setup``) to the sub-command parsers."""
    dock = sub.add_parser("docker", help="the Docker engine and base images")
    dock_sub = dock.add_subparsers(dest="docker_command", required=True, parser_class=type(dock))
    setup = dock_sub.add_parser(
        "setup", help="install/start the engine (as root) and build the Python base images"
    )
    setup.add_argument("matrix", nargs="?", type=Path, help="build what this matrix's cells need")
    setup.add_argument("--python", action="append", default=[], metavar="X.Y", help="a Python")
    setup.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Make the engine and the base images ready; print each image tag."""
    from driftmatrix.backends import docker_engine
    from driftmatrix.backends.docker_images import Images
    from driftmatrix.dockerspec import DockerSpec
    from driftmatrix.spec import load_matrix

    pythons = list(args.python)
    docker = DockerSpec()
    if args.matrix is not None:
        spec = load_matrix(args.matrix)
        pythons += [cell.python for cell in spec.cells]
        docker = spec.docker
    if not pythons:
        raise UsageError("docker setup: name a matrix file or at least one --python X.Y")

    client = docker_engine.ensure_engine(log, cache_dir=cache_dir())
    images = Images(
        client,
        cache_dir(),
        python_source=docker.source,
        python_images=dict(docker.images),
    )
    failed, printed = 0, set()
    for python in sorted(set(pythons)):
        # One version that cannot be set up (a mapped image that is missing) must not keep
        # the others from being ready; each failure is one line, and the exit says so.
        try:
            tags = images.setup([python], log)
        except BuildError as exc:
            print(f"driftmatrix: error: {exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        for tag in tags:
            if tag not in printed:
                print(tag)
                printed.add(tag)
    return EXIT_INFRA if failed else 0
