"""The engine object: voices, settings, metrics, packaging."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, assert_speaks

import ishowtts
from ishowtts import _ishowtts, _paths


def test_voices(engine: ishowtts.Engine, voice: Path) -> None:
    [default] = [v for v in engine.voices() if v.name == "default"]
    assert default.is_default and default.version >= 1
    assert default.language == "english" and default.sample_rate == 22050
    assert default.num_speakers == 1 and default.speaker is None and not default.cloned
    assert default.model.endswith("en_US-joe-medium.onnx")
    assert "default" in repr(default)


def test_two_workers_speak_as_one_does(engine: ishowtts.Engine, voice: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = ["First of three. It has two sentences.", "Second, one sentence.", "Third. Short."]
    want = [engine.synthesize(t, seed=5, use_cache=False) for t in texts]
    with ishowtts.Engine(voice, workers=2) as two, ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda t: two.synthesize(t, seed=5, use_cache=False), texts))
        assert two.metrics().models_loaded == 2  # each worker its own copy
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_add_replace_default_and_remove_voices(engine: ishowtts.Engine, voice: Path) -> None:
    v1 = engine.add_voice("joe", voice)
    v2 = engine.add_voice("joe", str(voice), speaker=0)
    assert v2 == v1 + 1
    [joe] = [v for v in engine.voices() if v.name == "joe"]
    assert joe.version == v2 and joe.speaker == 0 and not joe.is_default
    with pytest.raises(ishowtts.SpeakerOutOfRangeError):
        engine.add_voice("joe", voice, speaker=3)
    a = engine.synthesize("Named voice.", voice="joe", seed=1, use_cache=False)
    b = engine.synthesize("Named voice.", seed=1, use_cache=False)
    np.testing.assert_array_equal(a, b)  # the same model and speaker
    engine.set_default_voice("joe")
    assert [v.name for v in engine.voices() if v.is_default] == ["joe"]
    engine.set_default_voice("default")
    engine.remove_voice("joe")
    assert "joe" not in [v.name for v in engine.voices()]
    with pytest.raises(ishowtts.VoiceNotFoundError):
        engine.synthesize("Gone.", voice="joe")
    # A name registered again never reuses a version.
    assert engine.add_voice("joe", voice) == v2 + 1
    engine.remove_voice("joe")


def test_keyword_defaults_follow_the_engine() -> None:
    params = inspect.signature(ishowtts.Engine).parameters
    for name, value in _ishowtts._config_defaults().items():
        assert params[name].default == value, name
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY


def test_metrics(engine: ishowtts.Engine) -> None:
    engine.synthesize("Counting requests.", use_cache=False)
    m = engine.metrics()
    d = m.to_dict()
    assert set(d) == {
        "queue_depth", "pending_sentences", "requests", "completed", "failed", "cancelled",
        "rejected_busy", "time_to_first_audio", "sentence_synthesis", "queue_wait",
        "audio_seconds", "synthesis_seconds", "real_time_factor", "output_cache",
        "prompt_cache", "model_loads", "model_load_failures", "model_unloads", "models_loaded",
        "batch_steps", "batch_size", "batch_wait", "batch_retries", "sentences_at_budget",
    }  # fmt: skip
    for name, value in d.items():
        attr = getattr(m, name)
        if isinstance(value, dict):
            assert attr.to_dict() == value, name
        else:
            assert attr == value, name
    assert m.requests >= 1 and m.completed >= 1
    assert m.model_loads >= 1 and m.models_loaded >= 1
    assert m.time_to_first_audio.count >= 1
    assert 0 < m.time_to_first_audio.p50 <= m.time_to_first_audio.max
    assert m.audio_seconds > 0 and m.synthesis_seconds > 0 and m.real_time_factor > 0
    assert set(m.output_cache.to_dict()) == {"hits", "misses", "evictions", "entries", "bytes"}
    assert "ishowtts_queue_depth" in m.to_prometheus()
    assert "requests=" in repr(m)


def test_cache_can_be_disabled(voice: Path) -> None:
    with ishowtts.Engine(voice, cache_entries=0) as engine:
        engine.synthesize("Not kept.")
        chunks = list(engine.stream("Not kept."))
        assert not any(c.timings.from_cache for c in chunks)
        assert engine.metrics().output_cache.entries == 0


def test_engine_as_context_manager(voice: Path) -> None:
    with ishowtts.Engine(voice) as engine:
        assert not engine.closed
        assert "default" in repr(engine)
    assert engine.closed and repr(engine) == "Engine(closed)"


def test_default_voice_from_the_models_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    if "ISHOWTTS_VOICE" in os.environ:
        pytest.skip("ISHOWTTS_VOICE names the voice")
    monkeypatch.chdir(ROOT)  # ./models
    with ishowtts.Engine() as engine:
        assert [v.name for v in engine.voices()] == ["default"]
        assert_speaks(engine)


def test_default_voice_from_its_python_package(voice: Path, tmp_path: Path) -> None:
    """No models directory has the voice, but its package is installed."""
    package = tmp_path / "site" / _paths.VOICE_PACKAGE
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in (voice.name, voice.name + ".json"):
        # A copy, not a link: the engine names a model by its resolved path.
        shutil.copyfile(voice.with_name(name), package / "data" / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISHOWTTS_")}
    env.update(PYTHONPATH=str(tmp_path / "site"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    script = (
        "import ishowtts\n"
        "e = ishowtts.Engine()\n"
        "print(e.voices()[0].model)\n"
        "print(e.synthesize('Packaged voice.').size)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    model, size = run.stdout.split()
    assert _paths.VOICE_PACKAGE in model and int(size) > 10000

    # Without the package, the error says where the engine looked.
    del env["PYTHONPATH"]
    script = "import ishowtts\ntry:\n    ishowtts.Engine()\nexcept ishowtts.VoiceNotFoundError as e:\n    print(e)\n"
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "en_US-joe-medium.onnx" in run.stdout


def test_the_wheel_carries_espeak_data() -> None:
    data = _paths.packaged_espeak_data()
    assert data is not None, "build the wheel with scripts/test_python.sh (it bundles espeak-ng-data)"
    assert (data / "phondata").is_file() and (data / "en_dict").is_file()


def test_package_metadata() -> None:
    assert ishowtts.__version__.count(".") == 2
    assert ishowtts.Engine.__module__ == "ishowtts._ishowtts"
    for name in ishowtts.__all__:
        assert hasattr(ishowtts, name), name
    assert (Path(ishowtts.__file__).parent / "py.typed").is_file()
