"""Gather every wheel the course needs, for the laptops of a workshop room without internet.

    python tools/wheelhouse.py [--out wheelhouse] [--platforms linux_x86_64 win_amd64 macos_arm64 macos_x86_64]

(`make wheelhouse` runs it.) One folder per platform, `wheelhouse/<platform>/`, holds the wheels of the
pinned `requirements.txt` (CPython 3.11) and of the build back-end the course package needs
(setuptools), so that on a laptop of that platform, with no network at all:

    python -m venv .venv
    .venv/bin/pip install --no-index --find-links wheelhouse/linux_x86_64 -r requirements.txt
    .venv/bin/pip install --no-index --find-links wheelhouse/linux_x86_64 -e .

(on Windows: `.venv\\Scripts\\pip ...` and `wheelhouse\\win_amd64`). Wheels are downloaded with
`pip download --only-binary=:all: --platform ... --python-version 3.11`, so the set is right for the
target even when built on another system. Linux gets PyTorch's CPU-only build from its own index
(TORCH_CPU_INDEX; the default Linux wheel on PyPI pulls several GB of CUDA libraries); Windows and
macOS wheels on PyPI are CPU builds already. A requirement published only as a source archive (a
pure-Python package) is built once into a universal `py3-none-any` wheel here and copied into every
platform's folder. Requirements that apply only on the target (colorama and pywinpty on Windows,
appnope on macOS) are added by evaluating the wheels' markers for it, since pip evaluates them for the
machine it runs on. Intel Macs (macos_x86_64) get no folder: PyTorch publishes no wheel of the pinned
torch for them (its last Intel-Mac release is 2.2.2); the script says so and goes on. Prints one JSON line
at the end: each folder's size in MB and its number of wheels (measured 2026-11-29: Linux 338 MB,
Windows 255 MB, macOS arm64 235 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.11"
BUILD_PINS = ["setuptools==84.2.1", "wheel==0.48.0"]  # `pip install -e .` builds the course package offline
TORCH_CPU_INDEX = os.environ.get("TORCH_CPU_INDEX", "https://download.pytorch.org/whl/cpu")
PLATFORMS = {
    # pip expands each tag to the older compatible ones (manylinux_2_17, macOS 10.x/11.x, universal2).
    "linux_x86_64": ["manylinux_2_28_x86_64", "manylinux2014_x86_64", "linux_x86_64"],
    "win_amd64": ["win_amd64"],
    "macos_arm64": ["macosx_14_0_arm64"],
    "macos_x86_64": ["macosx_13_0_x86_64"],
}


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def requirement_lines() -> list[str]:
    lines = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def torch_pin(lines: list[str]) -> str:
    pins = [line for line in lines if re.match(r"torch\s*==", line)]
    if len(pins) != 1:
        raise SystemExit("requirements.txt must pin torch exactly once (torch==X.Y.Z)")
    return pins[0]


def platform_args(name: str) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp"]
    for tag in PLATFORMS[name]:
        args += ["--platform", tag]
    return args


def universal_wheels(lines: list[str], target: Path) -> None:
    """Wheels for the requirements that have no binary for some platform: build them once, pure Python."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for line in lines:
            probe = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", scratch, *platform_args("win_amd64"), line],
                capture_output=True, text=True)
            if probe.returncode != 0:  # no wheel published: build one (fails loudly for a compiled package)
                pip("wheel", "--no-deps", "-q", "-w", str(target), line)
    for wheel in target.glob("*.whl"):
        if not wheel.name.endswith("-none-any.whl"):
            raise SystemExit(f"{wheel.name} is not a pure-Python wheel: it cannot serve every platform")


# Environment markers of each target, for requirements such as `colorama; sys_platform == "win32"`:
# `pip download --platform` picks wheels for the target but evaluates markers for the machine it runs on.
MARKERS = {
    "linux_x86_64": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64"},
    "win_amd64": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64"},
    "macos_arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix", "platform_machine": "arm64"},
    "macos_x86_64": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix", "platform_machine": "x86_64"},
}


def target_requirements(wheel: Path, name: str) -> list:
    """The requirements a wheel declares that apply on platform `name` (markers evaluated for it, no extras)."""
    from packaging.requirements import Requirement

    environment = {"python_version": PYTHON_VERSION, "python_full_version": PYTHON_VERSION + ".9",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
                   **MARKERS[name]}
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode("utf-8", errors="replace")
    found = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            if requirement.marker is None or requirement.marker.evaluate(environment):
                found.append(requirement)
    return found


def wheel_name(wheel: Path) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(wheel.name.split("-")[0])


def missing_requirements(target: Path, name: str) -> list[str]:
    """Requirements of the wheels in `target` (for platform `name`) that no wheel there provides."""
    from packaging.utils import canonicalize_name

    present = {wheel_name(w) for w in target.glob("*.whl")}
    missing = {}
    for wheel in sorted(target.glob("*.whl")):
        for requirement in target_requirements(wheel, name):
            if canonicalize_name(requirement.name) not in present:
                missing[canonicalize_name(requirement.name)] = f"{requirement.name}{requirement.specifier}"
    return sorted(missing.values())


def gather(name: str, out: Path, universal: Path) -> dict:
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    lines = requirement_lines()
    pin = torch_pin(lines)
    for wheel in universal.glob("*.whl"):
        shutil.copy2(wheel, target / wheel.name)
    # torch alone first (on Linux the CPU-only build from its own index; PyPI's Linux wheel pulls several GB
    # of CUDA libraries), then everything else together with torch's own requirements for this platform.
    index = ["--index-url", TORCH_CPU_INDEX] if name.startswith("linux") else []
    try:
        pip("download", "--no-deps", "-d", str(target), *index, *platform_args(name), pin)
    except subprocess.CalledProcessError:
        # PyTorch stopped publishing Intel-Mac wheels after 2.2.2: the course's pin cannot run there at all.
        shutil.rmtree(target)
        return {"missing": f"{pin} has no wheel for {name}" + (
            " (PyTorch's last Intel-Mac wheel is 2.2.2): use Binder, Colab or a Linux VM there"
            if name == "macos_x86_64" else "")}
    torch_wheel = max(target.glob("torch-*.whl"))
    torch_deps = [f"{r.name}{r.specifier}" for r in target_requirements(torch_wheel, name)]
    pip("download", "-d", str(target), "--find-links", str(target), *platform_args(name),
        *[line for line in lines if line != pin], *torch_deps, *BUILD_PINS)
    # Requirements that apply only on the target (pywinpty and colorama on Windows, appnope on macOS, ...).
    for _ in range(10):
        missing = missing_requirements(target, name)
        if not missing:
            break
        pip("download", "--no-deps", "-d", str(target), *platform_args(name), *missing)
    else:
        raise SystemExit(f"{target}: requirements still missing after 10 rounds: {missing}")
    wheels = sorted(target.glob("*.whl"))
    if name.startswith("linux") and any(w.name.startswith("nvidia_") for w in wheels):
        raise SystemExit(f"{target} holds CUDA libraries: the CPU-only torch was not found at {TORCH_CPU_INDEX}")
    return {"wheels": len(wheels), "mb": round(sum(w.stat().st_size for w in wheels) / 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "wheelhouse")
    parser.add_argument("--platforms", nargs="+", default=list(PLATFORMS), choices=list(PLATFORMS))
    args = parser.parse_args()
    universal = args.out / "_universal"
    universal_wheels(requirement_lines(), universal)
    sizes = {name: gather(name, args.out, universal) for name in args.platforms}
    for name, size in sizes.items():
        if "missing" in size:
            print(f"WARNING: no wheelhouse for {name}: {size['missing']}", file=sys.stderr)
    total = round(sum(s.get("mb", 0) for s in sizes.values()), 1)
    print(json.dumps({"wheelhouse": str(args.out), "total_mb": total, "platforms": sizes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
