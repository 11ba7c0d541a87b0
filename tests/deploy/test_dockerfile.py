"""The root Dockerfile: linted by hadolint, and checked for what the
manifests rely on -- a non-root user, no build tools in the final stage, and
an ENTRYPOINT that is the project's console script.

No container engine runs here, so the image is not built; instead the build
context the Dockerfile sees (the repository less .dockerignore) is installed
the way its build stage does (a regular, non-editable install) and every role
is started from that install alone.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy import dockerfile
from tests.deploy.manifests import REPO

BUILD_TOOLS = ("gcc", "g++", "cc ", "make", "build-essential", "libc6-dev", "python3-dev")


def pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(hadolint).exists(), "hadolint is missing: scripts/bootstrap.sh --test installs it"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(dockerfile.DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_entrypoint_is_the_console_script() -> None:
    image = dockerfile.parse()
    scripts = pyproject()["project"]["scripts"]
    assert image.entrypoint() == ["tessera"]
    assert scripts["tessera"] == "cli.main:main"
    # `pip install` in the build stage's virtualenv puts the script in its bin/,
    # which the final stage puts first on PATH.
    venv = next(i.text.split()[-1] for i in image.stages[0].all("RUN") if "-m venv" in i.text)
    assert image.final.env()["PATH"].split(":")[0] == f"{venv}/bin"


def test_final_stage_is_small_and_unprivileged() -> None:
    image = dockerfile.parse()
    assert len(image.stages) >= 2, "a build stage and a runtime stage"
    build, final = image.stages[0], image.final
    assert final.base == build.base, "the copied virtualenv needs the same Python"
    user = final.last("USER")
    assert user is not None, "the final stage must not run as root"
    uid = user.text.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, (
        "a numeric, unprivileged uid (runAsNonRoot checks it)"
    )
    for inst in final.all("RUN"):
        text = inst.text + " "
        assert "apt-get install" not in text and "pip install" not in text, inst.text
        assert not any(tool in text for tool in BUILD_TOOLS), inst.text
    copies = [i.text.split() for i in final.all("COPY") + final.all("ADD")]
    assert copies, "the final stage copies the built virtualenv"
    for words in copies:
        assert words[0] == f"--from={build.name}", f"only build output reaches the image: {words}"
    assert any("apt-get install" in i.text for i in build.all("RUN")), "compilers stay in build"


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule, for the patterns used here: a match excludes the path
    and everything under it; a later '!' pattern re-includes."""
    result = False
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").strip("/")
        if pat.startswith("**/"):
            hit = any(fnmatch.fnmatch(p, pat[3:]) for p in parts)
        else:
            hit = any(fnmatch.fnmatch(p, pat) for p in prefixes)
        if hit:
            result = not negate
    return result


def build_context(target: Path) -> None:
    patterns = dockerignore_patterns()
    for root, dirs, files in os.walk(REPO):
        rel_root = Path(root).relative_to(REPO)
        dirs[:] = [d for d in dirs if not ignored(str(rel_root / d).lstrip("./"), patterns)]
        for name in files:
            rel = str(rel_root / name).lstrip("./") if str(rel_root) != "." else name
            if not ignored(rel, patterns):
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root) / name, target / rel)


def test_build_context_has_every_package() -> None:
    patterns = dockerignore_patterns()
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [
        d.name for d in REPO.iterdir() if (d / "__init__.py").exists() and d.name != "tests"
    ]
    left_out = [p for p in packages if not any(fnmatch.fnmatch(p, pat) for pat in include)]
    assert not left_out, f"pyproject's packages.find leaves {left_out} out of the install"
    assert {"tessera", "cli", "gateway", "node", "metadata", "proto", "service"} <= set(packages)
    for needed in [*packages, "pyproject.toml", "README.md"]:
        assert not ignored(needed, patterns), f".dockerignore leaves {needed} out of the image"
    for kept_out in (".venv", ".git", "tests", "data", "deploy"):
        assert ignored(kept_out, patterns), f"{kept_out} would be copied into the build"


@pytest.mark.integration
def test_the_install_the_image_makes_runs_every_role(tmp_path: Path) -> None:
    context = tmp_path / "context"
    build_context(context)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(context),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("tessera-*.whl")
    installed = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(installed)
        entry_points = next(n for n in z.namelist() if n.endswith("entry_points.txt"))
        assert "tessera = cli.main:main" in z.read(entry_points).decode()
    # -S: no site-packages processing, so this checkout's editable install
    # cannot supply a module the wheel forgot; the dependencies come after it.
    deps = sysconfig.get_paths()["purelib"]
    program = (
        "import sys, importlib\n"
        f"sys.path[:0] = [{str(installed)!r}, {deps!r}]\n"
        "for role in ('gateway', 'node', 'metadata'):\n"
        "    module = importlib.import_module(role + '.main')\n"
        f"    assert module.__file__.startswith({str(installed)!r}), module.__file__\n"
        "from cli.main import main\n"
        "main(sys.argv[1:])\n"
    )
    for role in ("gateway", "node", "metadata"):
        result = subprocess.run(
            [sys.executable, "-S", "-c", program, role, "--help"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert "TESSERA_" in result.stdout
