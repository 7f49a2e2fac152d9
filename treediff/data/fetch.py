"""Where gathered code comes from: pinned source specs and the fetchers that list their files.

A :class:`SourceSpec` (one ``[[source]]`` table of ``treediff/data/sources.toml``) names a source of
one *kind*; :func:`list_members` fetches it if needed (into a reusable download cache) and yields
:class:`Member` records (one per file, with a ``read()`` that returns its bytes) in sorted order.

Kinds: ``directory`` (a local tree at ``root`` under the declared ``license``), ``python-stdlib``, ``site-packages`` (license from each distribution's ``METADATA``),
``jdk-src`` (the JDK's ``lib/src.zip``), ``node-modules`` (npm's own packages under the node
install, license from each ``package.json``), ``usr-include`` (owner package from dpkg's file lists,
license from that package's ``copyright``), ``debian`` (``apt-get download`` + ``dpkg-deb -x``),
``pypi`` (``pip download --no-deps --no-binary PKG``: the sdist; build tools may come as wheels) and ``npm`` (``npm pack``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator

from treediff.data.licenses import (
    license_of_copyright,
    license_of_metadata,
    license_of_package_json,
    normalize_license,
)
from treediff.errors import InputError

__all__ = ["KINDS", "SourceSpec", "Member", "FetchError", "load_sources", "list_members", "DEFAULT_SOURCES"]

DEFAULT_SOURCES = Path(__file__).with_name("sources.toml")
KINDS = ("directory", "python-stdlib", "site-packages", "jdk-src", "node-modules", "usr-include", "debian", "pypi", "npm")
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".github"})
_FETCH_TIMEOUT_S = 600


class FetchError(InputError):
    """A source could not be fetched or read (the gather run records it and goes on)."""


@dataclass(frozen=True)
class SourceSpec:
    """One pinned source: ``name``, ``kind``, and for fetched kinds the ``package`` and exact ``version``.

    ``license`` is the declared license, used when the package metadata names none; ``root`` limits
    the walk to a sub-directory; ``unit_depth`` > 0 makes each sub-package (that many leading path
    components under ``root``) its own split unit instead of the whole source; ``max_mb`` caps the
    bytes kept from this source.
    """

    name: str
    kind: str
    package: str = ""
    version: str = ""
    license: str = ""
    root: str = ""
    unit_depth: int = 0
    max_mb: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"source {self.name!r}: unknown kind {self.kind!r}; choose one of: {', '.join(KINDS)}")
        if self.kind in ("debian", "pypi", "npm") and not (self.package and self.version):
            raise InputError(f"source {self.name!r}: kind {self.kind} needs a package and a pinned version")
        if self.kind == "directory" and not self.root:
            raise InputError(f"source {self.name!r}: kind directory needs a root")


@dataclass(frozen=True)
class Member:
    """One file of a source: ``origin`` (path inside the source), split ``unit``, license, size, reader."""

    origin: str
    unit: str
    license: str
    size: int
    read: Callable[[], bytes]
    language_hint: str = ""
    version: str = ""


def load_sources(path: str | os.PathLike[str] | None = None) -> list[SourceSpec]:
    """The source specs of a sources TOML file (the shipped one by default)."""
    path = Path(path) if path is not None else DEFAULT_SOURCES
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read sources: {exc}") from None
    specs = []
    for i, table in enumerate(data.get("source", [])):
        unknown = set(table) - set(SourceSpec.__dataclass_fields__)
        if unknown or "name" not in table or "kind" not in table:
            raise InputError(f"{path}: source #{i + 1} needs name and kind; unknown keys: {sorted(unknown) or 'none'}")
        specs.append(SourceSpec(**table))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: duplicate source names")
    return specs


def _file_member(path: Path, origin: str, unit: str, license: str, **kw: str) -> Member:
    return Member(origin, unit, license, path.stat().st_size, path.read_bytes, **kw)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and d != "node_modules")
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                yield p


def _unit(spec: SourceSpec, rel: str, default: str) -> str:
    if spec.unit_depth <= 0:
        return default
    parts = rel.split("/")[:-1][: spec.unit_depth] or [Path(rel).stem]
    return f"{spec.name}/{'/'.join(parts)}"


def _tree_members(spec: SourceSpec, root: Path, license: str, unit: str, version: str = "") -> Iterator[Member]:
    base = root / spec.root if spec.root else root
    if not base.is_dir():
        raise FetchError(f"source {spec.name}: {base} is not a directory")
    for p in _walk(base):
        rel = p.relative_to(base).as_posix()
        yield _file_member(p, rel, _unit(spec, rel, unit), license, version=version)


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"{' '.join(cmd[:3])}: {exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if re.match(r"(E:|error|ERROR|npm ERR!|npm error)", ln)] or lines
        raise FetchError(f"{' '.join(cmd)} failed: {errors[0] if errors else f'exit {proc.returncode}'}")


def _extract(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into ``dest`` once (a ``.done`` marker makes re-runs reuse it)."""
    done = dest / ".done"
    if done.exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    try:
        if archive.suffix == ".deb":
            _run(["dpkg-deb", "-x", str(archive), str(dest)], dest)
        elif archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise FetchError(f"{archive}: cannot extract: {exc}") from None
    done.write_text("ok\n")
    return dest


def _download(spec: SourceSpec, cache: Path) -> Path:
    """The cached archive of a pinned package, downloaded on first use."""
    d = cache / spec.kind
    d.mkdir(parents=True, exist_ok=True)
    patterns = {
        "debian": re.escape(f"{spec.package}_") + r"(\d+%3a)?" + re.escape(f"{spec.version.split(':')[-1].lower()}_")
                  + r"\w+\.deb",
        "pypi": re.sub(r"\\[-_.]", "[-_.]", re.escape(spec.package.lower())) + re.escape(f"-{spec.version}")
                + r"\.(tar\.gz|tar\.bz2|zip)",
        "npm": re.escape(f"{spec.package.lstrip('@').replace('/', '-')}-{spec.version}.tgz"),
    }

    def found() -> list[Path]:
        return sorted(p for p in d.iterdir() if re.fullmatch(patterns[spec.kind], p.name.lower()))

    if found():
        return found()[0]
    if spec.kind == "debian":
        try:
            _run(["apt-get", "download", "-q", f"{spec.package}={spec.version}"], d)
        except FetchError as exc:
            if "was not found" not in str(exc):
                raise
            return _debian_candidate(spec, d)
    elif spec.kind == "pypi":
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", spec.package,
              "-d", str(d), f"{spec.package}=={spec.version}"], d)
    else:
        _run(["npm", "pack", "--silent", f"{spec.package}@{spec.version}"], d)
    if not found():
        raise FetchError(f"source {spec.name}: downloaded, but no file matches {patterns[spec.kind]} in {d}")
    return found()[0]


def _debian_candidate(spec: SourceSpec, d: Path) -> Path:
    """The mirror's current version of a Debian package whose pinned version it no longer serves (Debian's
    security and point releases replace old versions; only snapshot.debian.org keeps them).  The version
    taken is what :func:`list_members` returns, so the manifest and the gather log name it."""
    _run(["apt-get", "download", "-q", spec.package], d)
    pattern = re.escape(f"{spec.package}_") + r"(.+)_\w+\.deb"
    debs = sorted((p for p in d.iterdir() if re.fullmatch(pattern, p.name)), key=lambda p: p.stat().st_mtime)
    if not debs:
        raise FetchError(f"source {spec.name}: version {spec.version} is gone from the mirror, and the current "
                         f"one downloaded to no {spec.package}_*.deb in {d}")
    return debs[-1]


def _deb_version(archive: Path, package: str) -> str:
    """``2:1.8.4-2`` from ``libx11-dev_2%3a1.8.4-2_amd64.deb``."""
    return archive.name[len(package) + 1:].rsplit("_", 1)[0].replace("%3a", ":").replace("%3A", ":")


def _single_dir(root: Path) -> Path:
    entries = [p for p in root.iterdir() if p.name != ".done"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else root


def _fetched_members(spec: SourceSpec, cache: Path) -> tuple[str, Iterator[Member]]:
    archive = _download(spec, cache)
    root = _extract(archive, cache / spec.kind / f"{archive.name}.d")
    unit = spec.package.lower()
    if spec.kind == "debian":
        license = license_of_copyright(root / "usr/share/doc" / spec.package / "copyright")
    elif spec.kind == "pypi":
        root = _single_dir(root)
        unit = re.sub(r"[-_.]+", "-", unit)
        pkg_info = root / "PKG-INFO"
        license = license_of_metadata(pkg_info.read_text(errors="replace")) if pkg_info.is_file() else "unknown"
    else:
        root = _single_dir(root)  # "package/" in most tarballs, the bare name in @types/*
        license = license_of_package_json(root / "package.json")
    if license == "unknown" and spec.license:
        license = normalize_license(spec.license)
    version = spec.version
    if spec.kind == "debian":  # the pin may be gone from the mirror (_debian_candidate): name what was taken
        taken = _deb_version(archive, spec.package)
        version = taken if taken.split(":")[-1] != spec.version.split(":")[-1] else version
    return version, _tree_members(spec, root, license, unit)


def _python_stdlib(spec: SourceSpec) -> tuple[str, Iterator[Member]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    license = normalize_license(spec.license or "PSF-2.0")

    def members() -> Iterator[Member]:
        for p in _walk(root):
            rel = p.relative_to(root).as_posix()
            if rel.startswith(("site-packages/", "dist-packages/")):
                continue
            unit = f"{spec.name}/{rel.split('/')[0].removesuffix('.py')}"
            yield _file_member(p, rel, unit, license)

    return sysconfig.get_python_version() + "." + str(sys.version_info.micro), members()


def _site_packages(spec: SourceSpec) -> tuple[str, Iterator[Member]]:
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})

    def members() -> Iterator[Member]:
        dists = sorted(metadata.distributions(path=paths), key=lambda d: (d.metadata["Name"] or "").lower())
        for dist in dists:
            name = re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "").lower())
            if not name or name == "treediff" or not dist.files:
                continue
            license = license_of_metadata(dist.read_text("METADATA") or "")
            for f in sorted(dist.files, key=str):
                p = Path(dist.locate_file(f))
                if p.is_file() and not p.is_symlink() and "__pycache__" not in f.parts:
                    yield _file_member(p, f"{name}/{f.as_posix()}", name, license, version=dist.version)

    return "installed", members()


def _jdk_home() -> Path:
    candidates = [os.environ.get("JAVA_HOME", "")]
    javac = shutil.which("javac")
    if javac:
        candidates.append(str(Path(os.path.realpath(javac)).parent.parent))
    candidates += sorted(str(p.parent.parent) for p in Path("/usr/lib/jvm").glob("*/lib/src.zip"))
    for c in candidates:
        if c and (Path(c) / "lib/src.zip").is_file():
            return Path(c)
    raise FetchError("no JDK with lib/src.zip found (set JAVA_HOME)")


def _jdk_src(spec: SourceSpec) -> tuple[str, Iterator[Member]]:
    home = _jdk_home()
    version = "unknown"
    release = home / "release"
    if release.is_file():
        m = re.search(r'JAVA_VERSION="([^"]+)"', release.read_text(errors="replace"))
        version = m.group(1) if m else version
    license = normalize_license(spec.license or "GPL-2.0 with Classpath exception")

    def members() -> Iterator[Member]:
        with zipfile.ZipFile(home / "lib/src.zip") as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if info.is_dir():
                    continue
                unit = _unit(spec, info.filename, spec.name)
                yield Member(info.filename, unit, license, info.file_size, lambda i=info: zf.read(i))

    return version, members()


def _node_modules(spec: SourceSpec) -> tuple[str, Iterator[Member]]:
    node = shutil.which("node")
    if node is None:
        raise FetchError("node is not installed")
    root = Path(os.path.realpath(node)).parent.parent / "lib/node_modules"
    if not root.is_dir():
        raise FetchError(f"{root}: no global node_modules")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()

    def members() -> Iterator[Member]:
        for pkg_json in sorted(root.rglob("package.json")):
            pkg = pkg_json.parent
            if pkg.parent.name != "node_modules" and pkg.parent.parent.name != "node_modules":
                continue  # a package.json inside a package (test fixtures, sub-modules)
            try:
                info = json.loads(pkg_json.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            name = str(info.get("name") or pkg.name)
            license = license_of_package_json(pkg_json)
            for p in _walk(pkg):
                yield _file_member(p, f"{name}/{p.relative_to(pkg).as_posix()}", name.lower(), license,
                                   version=str(info.get("version", "")))

    return version, members()


def _dpkg_owners(prefix: str) -> dict[str, str]:
    owners: dict[str, str] = {}
    for lst in sorted(Path("/var/lib/dpkg/info").glob("*.list")):
        pkg = lst.stem.split(":")[0]
        for line in lst.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                owners[line] = pkg
    return owners


def _usr_include(spec: SourceSpec) -> tuple[str, Iterator[Member]]:
    root = Path("/usr/include")
    if not root.is_dir():
        raise FetchError("/usr/include does not exist")

    def members() -> Iterator[Member]:
        owners = _dpkg_owners("/usr/include/")
        licenses: dict[str, str] = {}
        for p in _walk(root):
            rel = p.relative_to(root).as_posix()
            pkg = owners.get(str(p), "")
            if pkg and pkg not in licenses:
                licenses[pkg] = license_of_copyright(Path("/usr/share/doc") / pkg / "copyright")
            hint = "cpp" if rel.startswith("c++/") and "." not in p.name else ""
            yield _file_member(p, rel, pkg or f"{spec.name}/{rel.split('/')[0]}", licenses.get(pkg, "unknown"),
                               language_hint=hint)

    return "installed", members()


def _directory(spec: SourceSpec) -> tuple[str, Iterator[Member]]:
    license = normalize_license(spec.license) if spec.license else "unknown"
    base = Path(spec.root).expanduser().resolve()  # absolute, so _tree_members' root / spec.root is base itself
    return spec.version or "local", _tree_members(replace(spec, root=str(base)), base, license, spec.package or spec.name)


_LOCAL: dict[str, Callable[[SourceSpec], tuple[str, Iterator[Member]]]] = {
    "directory": _directory,
    "python-stdlib": _python_stdlib,
    "site-packages": _site_packages,
    "jdk-src": _jdk_src,
    "node-modules": _node_modules,
    "usr-include": _usr_include,
}


def list_members(spec: SourceSpec, cache: str | os.PathLike[str]) -> tuple[str, Iterator[Member]]:
    """The source's version and its files (fetching into ``cache`` first for fetched kinds)."""
    if spec.kind in _LOCAL:
        return _LOCAL[spec.kind](spec)
    return _fetched_members(spec, Path(cache))
