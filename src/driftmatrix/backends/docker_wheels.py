"""A cell's packages for an image: resolved and downloaded on the host by uv, wheels only.

The host reaches the package index and has uv's download cache; containers have neither (and
no CA bundle). So uv installs the pins into a plain directory (``--target``) for the image's
interpreter and platform, and the image build only copies that directory in.
"""

from __future__ import annotations

from pathlib import Path

from driftmatrix.backends.docker_python import PythonImage
from driftmatrix.backends.uv import run_uv

_UV_TIMEOUT = 1800.0


def install_pins(
    uv: str,
    site: Path,
    python: PythonImage,
    packages: tuple[tuple[str, str], ...],
) -> None:
    """Install ``packages`` (name, version) into ``site`` for ``python`` and its platform.

    Args:
        uv: The uv binary.
        site: An empty directory; it becomes the image's site directory.
        python: The image's Python: its host interpreter is used when it has one (the same
            markers as the venv backend), else its version.
        packages: The cell's pins.

    Raises:
        BuildError: the pins cannot be installed: the same one-line summary as the venv
            backend gives, prefixed with the Python version.
        InfraError: uv is missing, hangs, or the package index is unreachable.
    """
    pins = [f"{name}=={version}" for name, version in packages]
    if not pins:
        return
    target = (
        ["--python", python.interpreter.executable]
        if python.interpreter is not None
        else ["--python-version", python.version]
    )
    # Wheels only, as in the venv backend: an old release without a wheel for this Python
    # must fail in a second, not compile for twenty minutes.
    args = ["pip", "install", "--target", str(site), *target]
    args += ["--python-platform", python.platform, "--only-binary", ":all:", *pins]
    run_uv(uv, args, timeout=_UV_TIMEOUT, context=f"Python {python.version}")
