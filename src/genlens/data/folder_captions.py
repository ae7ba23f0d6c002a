"""Captions of a folder's images, for text-conditional training.

Two ways to caption a folder (both may be mixed; ``captions.jsonl`` wins where both name an image):

- ``ROOT/captions.jsonl``: one JSON object per line, ``{"file": "<path relative to ROOT>", "text": "..."}``
  (``/`` as separator; blank lines are fine). A malformed line is one error naming the file and line number.
- ``ROOT/.../<image stem>.txt`` beside each image (UTF-8; surrounding whitespace is dropped).

An image without a caption gets ``""``; ``diffusion train --cond text`` trains it with the null condition
(unconditional; :func:`genlens.diffusion.text.caption_table`). Captions travel with the data
(``ImageData.captions``, aligned with the images) so a subset or a batch keeps them;
:func:`captions_for` is what a trainer calls.
"""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from genlens.errors import GenlensError

CAPTIONS_FILE = "captions.jsonl"


def captions_for(data) -> list[str]:
    """One caption per image of ``data`` (an :class:`~genlens.data.base.ImageData` or a streamed folder), in the
    images' order (``""`` where an image has none), or one line saying how to add captions.

    ``diffusion train --cond text`` on a folder: the caption of image i is ``captions_for(data)[i]``; the
    streaming loader yields each batch's image indices for this lookup (:func:`genlens.data.stream.batches`)."""
    captions = getattr(data, "captions", None)
    if captions is None:
        raise GenlensError(f"{getattr(data, 'name', 'the data')} has no captions; add ROOT/{CAPTIONS_FILE} "
                           '(lines {"file": "a/1.png", "text": "..."}) or a .txt beside each image')
    return list(captions)


def read_captions(root: Path, files: list[Path] | tuple[Path, ...], notes: list[str] | None = None
                  ) -> tuple[str, ...] | None:
    """The caption of each of ``files`` (images under ``root``), or None when the folder has no captions at all;
    appends what the user should hear (images without a caption, entries naming no image) to ``notes``."""
    table = read_jsonl(root / CAPTIONS_FILE) if (root / CAPTIONS_FILE).is_file() else {}
    keys = [_key(f.relative_to(root).as_posix()) for f in files]
    out, from_txt = [], 0
    for f, key in zip(files, keys, strict=True):
        text = table.get(key)
        if text is None:
            txt = f.with_suffix(".txt")
            text = txt.read_text(encoding="utf-8", errors="replace").strip() if txt.is_file() else ""
            from_txt += bool(text)
        out.append(text)
    if not table and not from_txt:
        return None
    unknown = sorted(set(table) - set(keys))
    if table and len(unknown) == len(table):
        raise GenlensError(f"'{root / CAPTIONS_FILE}' names none of the images (e.g. '{unknown[0]}'); write each "
                           f"\"file\" relative to '{root}', such as '{keys[0] if keys else 'class/1.png'}'")
    if notes is not None:
        missing = sum(not t for t in out)
        if missing:
            notes.append(f"{missing} of {len(out)} image(s) have no caption: with --cond text they train with the null "
                         "condition (unconditional)")
        if unknown:
            notes.append(f"{len(unknown)} {CAPTIONS_FILE} entries name no image that was loaded "
                         f"(first: {unknown[0]})")
    return tuple(out)


def read_jsonl(path: Path) -> dict[str, str]:
    """``{relative path: text}`` from a captions.jsonl; a bad line is one error naming the file and line."""
    table: dict[str, str] = {}
    fix = 'write one JSON object per line: {"file": "<path relative to the folder>", "text": "<caption>"}'
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GenlensError(f"'{path}' line {n} is not JSON ({exc.msg}); {fix}") from None
            if not isinstance(row, dict) or not isinstance(row.get("file"), str) or not isinstance(
                    row.get("text"), str):
                raise GenlensError(f"'{path}' line {n} needs string fields \"file\" and \"text\"; {fix}")
            table[_key(row["file"])] = row["text"].strip()
    return table


def _key(rel: str) -> str:
    """A relative path as written in captions.jsonl, normalised (``./a.png``, ``a\\b.png`` -> ``a/b.png``)."""
    return PurePosixPath(rel.replace("\\", "/")).as_posix().removeprefix("./")
