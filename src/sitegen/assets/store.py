"""The media store: published files by name in the cache folder, and what each processed source became."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any


class MediaStore:
    """Files by their published name, and a manifest per processed source, so no photo is processed twice.

    Names carry a hash of the source and the settings, so a name always means the same bytes.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = folder / "files"
        self.manifests = folder / "manifests"

    def path(self, name: str) -> Path:
        return self.files / name

    def manifest(self, key: str) -> dict[str, Any] | None:
        """What the source with this key became, if every file of it is still here."""
        try:
            found = json.loads((self.manifests / f"{key}.json").read_text(encoding="utf-8"))
            names = [variant[0] for variant in found["variants"]]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        if not isinstance(found, dict) or not all(isinstance(n, str) and (self.files / n).is_file() for n in names):
            return None
        return found

    def save(self, key: str, files: list[tuple[str, bytes]], manifest: dict[str, Any]) -> None:
        """Keep the files, then the manifest that vouches for them; each moved into place whole.

        Two workers processing the same photo at once write the same bytes under the same names.
        """
        self.files.mkdir(parents=True, exist_ok=True)
        self.manifests.mkdir(parents=True, exist_ok=True)
        for name, data in files:
            _write_whole(self.files / name, data)
        _write_whole(self.manifests / f"{key}.json", json.dumps(manifest, sort_keys=True).encode())

    def prune(self, keep: set[str]) -> int:
        """Delete files no build uses any more, and manifests naming any of them; returns files deleted."""
        removed = 0
        if self.files.is_dir():
            for entry in os.scandir(self.files):
                if entry.name not in keep:
                    os.unlink(entry.path)
                    removed += 1
        if self.manifests.is_dir():
            for entry in os.scandir(self.manifests):
                try:
                    names = [v[0] for v in json.loads(Path(entry.path).read_text(encoding="utf-8"))["variants"]]
                except (OSError, ValueError, KeyError, TypeError, IndexError):
                    names = []
                if not names or any(name not in keep for name in names):
                    os.unlink(entry.path)
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_whole(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
