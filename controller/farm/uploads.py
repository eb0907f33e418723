"""Checks on uploaded files: safe names, a size limit, and content that really is G-code or a mesh."""
from __future__ import annotations

import hashlib
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from controller.errors import UploadError, UploadTooLargeError

GCODE_EXT = {".gcode", ".gco", ".g"}
MESH_EXT = {".stl", ".obj", ".3mf"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_GCODE_LINE = re.compile(rb"^\s*(?:N\d+\s+)?[GMT]\d+", re.MULTILINE)
CHUNK = 1 << 20


@dataclass(frozen=True)
class SavedUpload:
    """An upload written to disk: its safe name, path, kind (gcode|mesh), size and hash."""

    name: str
    path: Path
    kind: str
    size: int
    sha256: str


def safe_name(raw: str | None) -> str:
    """Keep only the base name, in letters, digits, '.', '_' and '-'; refuse names that end up empty."""
    base = (raw or "").replace("\\", "/").split("/")[-1].strip()
    clean = _UNSAFE.sub("_", base).lstrip(".")
    if not clean or not Path(clean).suffix:
        raise UploadError(f"file name {raw!r} is not usable: give a name like part.stl or part.gcode")
    return clean[:200]


def kind_of(name: str) -> str:
    """gcode or mesh, from the extension."""
    ext = Path(name).suffix.lower()
    if ext in GCODE_EXT:
        return "gcode"
    if ext in MESH_EXT:
        return "mesh"
    raise UploadError(f"{name}: unsupported file type {ext!r}; send G-code (.gcode) or a mesh (.stl, .obj, .3mf)")


def _check_gcode(path: Path, name: str) -> None:
    """G-code is text with G/M commands in its first lines."""
    head = path.open("rb").read(256 * 1024)
    if b"\x00" in head:
        raise UploadError(f"{name} is not G-code: it contains binary data")
    if len(_GCODE_LINE.findall(head)) < 1:
        raise UploadError(f"{name} is not G-code: no G or M commands found in its first 256 kB")


def _check_mesh(path: Path, name: str, size: int) -> None:
    """STL (binary size matches its triangle count, or ASCII with facets), OBJ with vertices, or a 3MF zip."""
    ext = Path(name).suffix.lower()
    with path.open("rb") as fh:
        head = fh.read(4096)
    if ext == ".stl":
        if size >= 84:
            (n,) = struct.unpack("<I", head[80:84])
            if n > 0 and 84 + 50 * n == size:
                return
        if head.lstrip().lower().startswith(b"solid") and b"facet" in head:
            return
        raise UploadError(f"{name} is not a valid STL: neither binary (size does not match its triangle count) "
                          "nor ASCII with facets")
    if ext == ".obj":
        if re.search(rb"^v\s+[-\d.eE]+", head, re.MULTILINE) and b"\x00" not in head:
            return
        raise UploadError(f"{name} is not a valid OBJ: no vertex lines found")
    if ext == ".3mf":
        try:
            with zipfile.ZipFile(path) as zf:
                if any(n.lower().endswith(".model") for n in zf.namelist()):
                    return
        except zipfile.BadZipFile:
            pass
        raise UploadError(f"{name} is not a valid 3MF: not a zip holding a 3D model")


def save_upload(stream: BinaryIO, raw_name: str | None, dest_dir: Path, max_bytes: int, prefix: str) -> SavedUpload:
    """Copy an upload to dest_dir under a safe unique name, enforcing the size limit, then check its content."""
    name = safe_name(raw_name)
    kind = kind_of(name)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"{prefix}_{name}"
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLargeError(f"{name} is larger than the upload limit of {max_bytes / 1e6:.0f} MB")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadError(f"{name} is empty")
        if kind == "gcode":
            _check_gcode(path, name)
        else:
            _check_mesh(path, name, size)
    except UploadError:
        path.unlink(missing_ok=True)
        raise
    return SavedUpload(name, path, kind, size, digest.hexdigest())
