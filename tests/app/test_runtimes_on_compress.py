"""The Compress page offers ONNX Runtime's own int8 and the channel-pruned model in ONNX Runtime,
and measures them beside the PyTorch versions. The session gets a cnn trained in the test (a quarter of a
second), not through the Train page: tests/app/test_pages.py trains through the page."""

from __future__ import annotations

from dashboard.lab.training.train import TrainConfig, train
from dashboard.service.sessions import DataChoice
from tests.app.drive import button, finish_job, fresh, give_model, open_page, session


def test_onnx_runtime_versions_are_offered_and_measured(tiny_digits):
    at = fresh()
    cnn = train(TrainConfig(model="cnn", epochs=1, batch_size=64, threads=1, train_images=512), tiny_digits)
    give_model(at, cnn, DataChoice("digits", train_images=512))
    open_page(at, "app_pages/compress.py")
    for key, value in (("c_unstructured", False), ("c_int8_dynamic", False), ("c_int8_static", False),
                       ("c_channels", False), ("c_onnx", True), ("c_onnx_int8", True), ("c_onnx_pruned", True)):
        at.checkbox(key=key).set_value(value)
    at.slider(key="c_finetune").set_value(0)
    at.run()
    plan = next(c.value for c in at.caption if c.value.startswith("Will make and measure"))
    assert "onnxruntime-fp32, onnxruntime-int8, pruned-channels-50+onnxruntime" in plan
    button(at, "Compress & measure").click()
    at.run()
    finish_job(at)
    results = {r.name: r for r in session(at).results}
    assert set(results) == {"fp32", "onnxruntime-fp32", "onnxruntime-int8", "pruned-channels-50+onnxruntime"}
    for r in results.values():
        assert r.available, (r.name, r.note)
        assert r.latency_ms_batch1_p50 > 0 and r.accuracy > 0.5
    # ORT's int8 file holds 8-bit weights: well under the fp32 file's size.
    assert results["onnxruntime-int8"].size_bytes < 0.5 * results["onnxruntime-fp32"].size_bytes
