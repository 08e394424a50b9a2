"""The built package carries the flagship model (scenarios and overlays included) and finds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from conftest import ROOT


def test_wheel_ships_the_flagship_and_queries_it_from_anywhere(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("bn-*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(site)
    shipped = {Path(n).relative_to("bn/flagship").as_posix() for n in names if "flagship" in n}
    in_repo = {
        p.relative_to(ROOT / "cpts").as_posix()
        for p in (ROOT / "cpts").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped == in_repo
    assets = {"bn/serve/static/index.html", "bn/serve/static/app.js", "bn/serve/static/style.css"}
    assert assets <= set(names)  # bn serve's page comes from the installed package
    # Run the installed layout alone: -S keeps the editable install of this checkout out of the way.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]]),
    }
    env.pop("BN_MODEL", None)
    code = "from bn.cli import main; main()"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, "query", "KABOOM", "--scenario", "samotsvety", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert abs(data["posteriors"]["nuclear_war"]["yes"] - 0.16 * 0.096) < 1e-6
