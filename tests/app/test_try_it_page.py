"""AppTest of Try it yourself: a fresh session is told what it needs; with a trained and compressed model an
uploaded image is prepared step by step and every version answers with its latency; a hostile upload gives
one line and the session keeps its model and results; a CIFAR-10 model offers no canvas."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from dashboard.lab.inputs import data
from dashboard.lab.compression.compress import CompressSettings
from dashboard.service import measuring
from dashboard.service.sessions import DataChoice
from tests.app.drive import digit_png, finish_job, fresh, give_model, open_try_it, session

TITLE = "Try it yourself"
VERSIONS = ["fp32", "int8-dynamic", "pruned-unstructured-50"]


def test_fresh_session_says_what_it_needs():
    at = open_try_it()
    assert [t.value for t in at.title] == [TITLE]
    assert any("Train a model first" in i.value for i in at.info)
    assert not at.file_uploader and not at.error


def test_an_upload_is_answered_by_every_version_with_its_latency(tiny_trained):
    at = open_try_it()
    give_model(at, tiny_trained, DataChoice("digits", train_images=512))
    s = session(at)
    measuring.start_compress(s, VERSIONS, CompressSettings(finetune_epochs_unstructured=0, calibration_images=64))
    finish_job(at)
    assert [r.name for r in s.results] == VERSIONS
    runs_before = len(s.runs)

    # The canvas is the default for a digit model; the other sources are offered too.
    assert at.radio(key="try_source").options == ["Draw", "Upload a file", "Take a photo"]
    at.radio(key="try_source").set_value("upload")
    at.run()
    at.file_uploader(key="try_upload").set_value(("one.png", digit_png("1"), "image/png"))
    at.run()
    finish_job(at)
    assert not at.warning and not at.error, [w.value for w in at.warning] + [e.value for e in at.error]

    table = at.table[0].value
    assert list(table["version"]) == VERSIONS
    for _, row in table.iterrows():
        top = [row[col].replace("\xa0", " ") for col in ("says", "2nd", "3rd")]   # kept on one line by NBSPs
        assert all(cell.split(" (")[0] in data.DIGIT_CLASSES and cell.endswith("%)") for cell in top), top
        assert row["this call"].endswith(("µs", "ms", "s")) and row["this call"][0].isdigit()
        assert row["test accuracy"].endswith("%")
    assert any("versions say" in m.value or "disagree" in m.value for m in at.markdown)
    # How the image was prepared: the steps, ending at the model's input, centred by mass.
    centre = [re.fullmatch(r"centre of mass: row ([\d.]+), column ([\d.]+)", c.value) for c in at.caption]
    row, col = next(map(float, m.groups()) for m in centre if m)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    # A prediction is light: no run in Results, and the measured results and model are as they were.
    assert len(s.runs) == runs_before and [r.name for r in s.results] == VERSIONS

    # A second image reuses the versions kept for this tab: no second build.
    kept = at.session_state["versions_kept"]["variants"]
    at.file_uploader(key="try_upload").set_value(("seven.png", digit_png("7"), "image/png"))
    at.run()
    finish_job(at)
    assert at.session_state["versions_kept"]["variants"] is kept
    assert list(at.table[0].value["version"]) == VERSIONS


@pytest.mark.parametrize("name,content,words", [
    ("notes.png", b"this is a text file with a .png name\n", "not a PNG, JPEG or WebP"),
    ("empty.png", b"", "empty"),
])
def test_a_hostile_upload_gives_one_line_and_keeps_the_session(tiny_trained, name, content, words):
    at = open_try_it()
    give_model(at, tiny_trained, DataChoice("digits", train_images=512))
    s = session(at)
    trained, digest, results = s.trained, s.digest, list(s.results)
    at.radio(key="try_source").set_value("upload")
    at.run()
    at.file_uploader(key="try_upload").set_value((name, content, "image/png"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    messages = [w.value for w in at.warning]
    assert len(messages) == 1 and words in messages[0] and "\n" not in messages[0], messages
    assert s.trained is trained and s.digest == digest and s.results == results and not s.busy
    assert not at.table                          # nothing predicted from it
    # The page still works: a good image after the bad one is answered.
    at.file_uploader(key="try_upload").set_value(("one.png", digit_png("1"), "image/png"))
    at.run()
    finish_job(at)
    assert not at.warning and list(at.table[0].value["version"]) == ["fp32"]


def test_a_cifar_model_takes_photos_not_drawings(monkeypatch):
    """CIFAR-10 cannot be downloaded here: a small stand-in of its shape plays the dataset."""
    from dashboard.lab.training.train import TrainConfig, train

    info = data.CATALOG["cifar10"]
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.arange(64) % 10
    fake = data.Dataset(info, images, labels, images[:32], labels[:32])
    monkeypatch.setitem(data._shared, "cifar10", fake)
    trained = train(TrainConfig(model="mlp", dataset="cifar10", epochs=1, batch_size=32, threads=1), fake)

    at = open_try_it()
    give_model(at, trained, DataChoice("cifar10"))
    assert at.radio(key="try_source").options == ["Upload a file", "Take a photo"]
    photo = Image.fromarray(np.full((48, 64, 3), (30, 90, 200), np.uint8))
    buf = io.BytesIO()
    photo.save(buf, "JPEG")
    at.file_uploader(key="try_upload").set_value(("sky.jpg", buf.getvalue(), "image/jpeg"))
    at.run()
    finish_job(at)
    table = at.table[0].value
    assert list(table["version"]) == ["fp32"] and table["says"].iloc[0].split("\xa0(")[0] in info.classes
    assert any(c.value == "the model's input" for c in at.caption)          # the last step: 32x32 colour


def test_a_blank_image_says_there_is_nothing_to_recognise(tiny_trained):
    at = open_try_it()
    give_model(at, tiny_trained, DataChoice("digits", train_images=512))
    at.radio(key="try_source").set_value("upload")
    at.run()
    buf = io.BytesIO()
    Image.new("RGB", (120, 90), (250, 250, 245)).save(buf, "JPEG")
    at.file_uploader(key="try_upload").set_value(("blank.jpg", buf.getvalue(), "image/jpeg"))
    at.run()
    assert not at.exception and not at.warning and not at.table
    assert any(i.value.startswith("Nothing to recognise") for i in at.info)
    assert not session(at).busy and session(at).job is None          # nothing was sent to the model
