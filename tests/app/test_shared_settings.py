"""A link's settings: opening the Train or Compress page with query parameters fills in its widgets,
a bad value is refused with a plain notice (the widget keeps its default), and the page's
"Link to these settings" gives back what the student changed, never the session token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from dashboard.course import forms
from dashboard.service.sessions import DataChoice
from tests.app.drive import fresh, give_model, open_page, session, train_tiny

TRAIN, COMPRESS = "app_pages/train.py", "app_pages/compress.py"


def open_with(at, page: str, **params: str):
    for name, value in params.items():
        at.query_params[name] = value
    return open_page(at, page)


def shown(warning) -> str:
    """A notice as the student reads it (the page escapes markdown with backslashes)."""
    return warning.value.replace("\\", "")


def share_link(at) -> str:
    codes = [c.value for c in at.code]
    assert len(codes) == 1, codes
    return codes[0]


def link_params(link: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(link).query).items()}


def test_the_train_page_takes_its_settings_from_the_link_once():
    at = open_with(fresh(), TRAIN, model="mlp", epochs="5", lr="1", batch="128", augment="on", images="1000",
                   opt="sgd", seed="42", schedule="constant")
    assert not at.warning
    assert at.selectbox(key="train_model").value == "mlp"
    assert at.slider(key="train_epochs").value == 5
    assert at.select_slider(key="train_lr").value == 1.0
    assert at.select_slider(key="train_batch").value == 128
    assert at.toggle(key="train_augment").value is True
    assert at.select_slider(key="train_images").value == 1000
    assert at.radio(key="train_optimizer").value == "sgd"
    assert at.number_input(key="train_seed").value == 42
    assert at.radio(key="train_schedule").value == "constant"
    # Applied, then gone from the address (which never holds a session token).
    assert set(at.query_params) == set()
    assert session(at).forms["train"]["train_epochs"] == 5
    # The student's later change is not undone by a rerun.
    at.slider(key="train_epochs").set_value(2).run()
    at.run()
    assert at.slider(key="train_epochs").value == 2
    # The link gives these settings back, and nothing else.
    params = link_params(share_link(at))
    assert params == {"model": "mlp", "epochs": "2", "lr": "1", "batch": "128", "augment": "on", "images": "1000",
                      "opt": "sgd", "seed": "42", "schedule": "constant"}
    # What the page got from the link is what a training would use.
    assert session(at).forms["train"]["train_lr"] == 1.0


def test_bad_values_show_a_plain_notice_and_keep_the_default():
    at = open_with(fresh(), TRAIN, epochs="500", lr="<script>alert(1)</script>", model="../../etc/passwd",
                   seed="nan", batch="x" * 200, bogus="1")
    notices = [shown(w) for w in at.warning]
    assert len(notices) == 6, notices
    for param in ("epochs", "lr", "model", "seed", "batch", "bogus"):
        assert any(param in n for n in notices), (param, notices)
    assert not any("<script>" in w.value or "<" in w.value.replace("\\<", "") for w in at.warning)
    defaults = forms.defaults("train")
    assert at.slider(key="train_epochs").value == defaults["train_epochs"]
    assert at.select_slider(key="train_lr").value == defaults["train_lr"]
    assert at.selectbox(key="train_model").value == defaults["train_model"]
    assert at.number_input(key="train_seed").value == defaults["train_seed"]
    assert at.select_slider(key="train_batch").value == defaults["train_batch"]
    # The notices were for that link: the next run does not repeat them.
    at.run()
    assert not at.warning


def test_the_share_link_carries_only_what_changed_and_the_full_address_where_known():
    at = fresh()
    at.context["url"] = "https://lab.example/train"
    open_page(at, TRAIN)
    assert share_link(at) == "https://lab.example/train"   # the defaults: the page's own address
    assert any("default settings" in c.value for c in at.caption)
    assert session(at).forms["train"] == forms.defaults("train")   # the page's FORM is the schema's
    at.select_slider(key="train_batch").set_value(256)
    at.number_input(key="train_seed").set_value(7)
    at.run()
    link = share_link(at)
    assert link.startswith("https://lab.example/train?")
    assert link_params(link) == {"batch": "256", "seed": "7"}
    # Opening that link in a new tab gives the same widgets.
    again = open_with(fresh(), TRAIN, **link_params(link))
    assert again.select_slider(key="train_batch").value == 256 and again.number_input(key="train_seed").value == 7


def test_a_preset_opens_by_name():
    at = open_with(fresh(), TRAIN, preset="lesson-diverge")
    assert not at.warning
    assert at.select_slider(key="train_lr").value == 1.0
    at = open_with(fresh(), TRAIN, preset="lesson-compress")
    assert len(at.warning) == 1 and "compress page" in shown(at.warning[0])


def test_compress_settings_from_a_link_opened_before_training_wait_for_the_model():
    at = open_with(fresh(), COMPRESS, preset="lesson-compress", temp="2.5", alpha="0.3", calib="256",
                   prune_pct="33")
    assert any("Train a model first" in i.value for i in at.info)
    notices = [shown(w) for w in at.warning]
    assert len(notices) == 1 and "prune_pct" in notices[0] and "steps of 5" in notices[0]
    train_tiny(at)
    open_page(at, COMPRESS)
    assert not at.warning
    for key, value in {"c_unstructured": True, "c_channels": True, "c_int8_dynamic": False, "c_int8_static": True,
                       "c_combo": False, "c_distilled": False, "c_onnx": True, "c_onnx_int8": False}.items():
        assert at.checkbox(key=key).value is value, key
    assert at.slider(key="c_unstructured_pct").value == 90   # the bad 33 left the preset's value
    assert at.slider(key="c_channels_pct").value == 50
    assert at.slider(key="c_temperature").value == 2.5 and at.slider(key="c_alpha").value == 0.3
    assert at.select_slider(key="c_calibration").value == 256
    plan = next(c.value for c in at.caption if c.value.startswith("Will make and measure"))
    assert plan.startswith("Will make and measure: fp32, pruned-unstructured-90, pruned-channels-50, int8-static, "
                           "onnxruntime-fp32.")
    assert set(session(at).forms["compress"]) == set(forms.defaults("compress"))
    # The share link says what differs from the page's defaults.
    at.slider(key="c_channels_pct").set_value(70).run()
    params = link_params(share_link(at))
    assert params == {"int8_dyn": "off", "channels_pct": "70", "onnx": "on", "calib": "256", "temp": "2.5",
                      "alpha": "0.3"}
    # A bad value on a page with a model: a notice, and the widget keeps what it had.
    open_with(at, COMPRESS, alpha="2", int8="maybe")
    assert len(at.warning) == 2
    assert at.slider(key="c_alpha").value == 0.3 and at.checkbox(key="c_int8_static").value is True


def test_edge_opens_on_the_profile_a_lesson_names_kept_until_there_is_a_model():
    at = open_with(fresh(), "app_pages/edge.py", preset="lesson-edge")
    assert not at.warning and set(at.query_params) == set()
    assert session(at).forms["edge"]["edge_profile"] == "microcontroller"   # no model yet: kept for later
    train_tiny(at)
    open_page(at, "app_pages/edge.py")
    assert at.radio(key="edge_profile").value == "microcontroller"
    assert any("Microcontroller-class" in b.label for b in at.button)
    # A profile the page does not have: a plain notice, the page keeps its choice.
    open_with(at, "app_pages/edge.py", profile="toaster")
    assert len(at.warning) == 1 and "profile" in shown(at.warning[0])
    assert at.radio(key="edge_profile").value == "microcontroller"


def offered(slider) -> list[float]:
    """The values a select slider offers, read back from the labels the student sees ("all" is 0)."""
    return [0 if o == "all" else float(o.replace(",", "")) for o in slider.options]


def test_the_pages_offer_exactly_the_values_a_link_can_carry(tiny_trained):
    # One list per setting: the widget shows what a link may say, so no link value is missing from the
    # page and the page offers nothing a link would refuse.
    at = open_page(fresh(), TRAIN)
    for key in ("train_batch", "train_lr", "train_images"):
        assert offered(at.select_slider(key=key)) == list(forms.field(key).allowed()), key
    give_model(at, tiny_trained, DataChoice("digits", train_images=512))
    open_page(at, COMPRESS)
    assert offered(at.select_slider(key="c_calibration")) == list(forms.field("c_calibration").allowed())
