"""Replays: a whole run measured earlier by the command line, bundled with the app, loaded at once.

    python -m dashboard.course replay --demo --out assets/presets/demo.json     # make one (see __main__)
    r = replay.load("demo")     # ReplayError (one line) for a missing or broken file
    r.record                    # the RunRecord: config, training summary, BenchResults, energy, hardware, when
    r.trained                   # a TrainedModel with a live module, from the weights the file carries
    r.label                     # "a replay: measured on <cpu> at <date> with 2 threads, not now on this server"
    r.edge_runs_for(digest)     # its device-profile runs (lab.deploy.edge), as a Session keeps them for that model
    replay.peek("lesson")       # the figures without the model (no weights loaded): what a lesson check reads

A presenter's demo then depends neither on the room's network nor on the server's CPU, and it never
passes for a measurement made now: the label goes with the figures wherever they are shown.

A replay is the `run` command's JSON (RunRecord.to_dict(), read back with RunRecord.from_dict) with
one more block, "replay": its name and title, the trained model's description and training curves,
the model's weights (torch.save of the state_dict, base64) and, when it was made with `--edge`, every
version measured under the default device profiles (lab.deploy.edge.EdgeRun.to_dict, in "edge"), so the Edge
& cloud step of a run of show has figures to show too. The default cnn's float32 weights
are 1.7 MB (2.3 MB as base64), so weights above WEIGHTS_FP32_MAX bytes travel as float16: half the
size, and `make` records how many test images the rounded model still answers as the measured one did.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

import torch

from dashboard.lab.inputs.data import Dataset, load_dataset
from dashboard.lab.training.models import ModelSpec, build_model, model_cost
from dashboard.lab.training.outcome import Outcome
from dashboard.lab.measure.record import RunRecord
from dashboard.lab.serial import from_plain, to_plain
from dashboard.lab.training.train import EpochEvent, StepEvent, TrainConfig, TrainedModel

if TYPE_CHECKING:
    from dashboard.lab.deploy.edge import EdgeRun
    from dashboard.course.lesson_checks import Evidence

FORMAT = 1
FOLDER = "presets"              # assets/presets/, installed as dashboard.assets/presets
WEIGHTS_FP32_MAX = 1_000_000    # bytes of float32 weights kept as they are; above: float16
MAX_FILE_BYTES = 4_000_000      # a replay larger than this is refused unread
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


class ReplayError(ValueError):
    """A replay that cannot be used, in one line that names it and says why."""


@dataclass
class Replay:
    name: str
    title: str
    record: RunRecord
    trained: TrainedModel                       # with a live module (eval mode, CPU)
    steps: list[StepEvent] = field(default_factory=list)
    demo: bool = False                          # the Home page's demo settings
    weights_dtype: str = "float32"
    agreement: float | None = None              # rounded weights vs the measured model, on the test images
    edge_runs: list[EdgeRun] = field(default_factory=list)   # every version under each device profile measured

    @property
    def threads(self) -> int:
        return next((r.threads for r in self.record.results if r.threads), 0) or int(
            self.record.hardware.get("threads") or 0)

    @property
    def measured_at(self) -> str:
        """'2026-11-20 14:05 +0100' from the record's ISO time (as written when unreadable)."""
        m = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d)?([+-]\d{4})?", self.record.created_at or "")
        if not m:
            return self.record.created_at or "an unknown time"
        return f"{m[1]} {m[2]}" + (f" {m[3]}" if m[3] else "")

    def edge_runs_for(self, digest: str) -> dict[str, EdgeRun]:
        """The device runs by profile key, keyed to the model as the Session holds it (`digest`: the loaded
        weights' hash; the versions: the replay's measured set), so the Edge & cloud page shows them."""
        from dashboard.lab.compression.compress import resolve_names

        names = tuple(resolve_names([r.name for r in self.record.results]))
        return {run.profile.key: replace(run, key=(digest, names), source=self.label) for run in self.edge_runs}

    def evidence(self, settings=None) -> Evidence:
        """Its figures as a lesson check or a presenter note reads them (`settings`: the energy assumptions
        to price them under; None: the lab's defaults)."""
        from dashboard.course.lesson_checks import Evidence

        return Evidence(self.record.results, self.trained, self.record.training, self.record.training_energy,
                        {run.profile.key: run for run in self.edge_runs}, settings)

    @property
    def label(self) -> str:
        """Where and when the figures were measured, to follow "These figures were ..."."""
        cpu = self.record.hardware.get("cpu") or "an unknown CPU"
        n = self.threads
        return (f"a replay: measured on {cpu} at {self.measured_at} with {n} thread{'s' if n != 1 else ''}, "
                "not now on this server")


# ---------------------------------------------------------------- making one

def _state_bytes(state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


@torch.inference_mode()
def _answers(module: torch.nn.Module, dataset: Dataset) -> torch.Tensor:
    module.eval()
    return torch.cat([module(x).argmax(1) for x, _ in dataset.batches("test", 512)])


def make(record: RunRecord, *, name: str, title: str, steps: list[StepEvent] = (), demo: bool = False,
         command: str = "", dataset: Dataset | None = None, edge_runs: Sequence[EdgeRun] = ()) -> dict:
    """The replay of a finished pipeline run (record.trained live, every result measured) as JSON-able
    data; `steps`: the training's StepEvents (its loss curve); `dataset`: its data (loaded if needed);
    `edge_runs`: the run's versions measured under device profiles (lab.deploy.edge.run_profile), if any."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a replay's name is lower-case letters, digits and '-', not {name!r}")
    if record.stopped or record.trained is None or not record.results:
        raise ValueError("only a run that finished with measured versions can be a replay")
    if any(run.stopped for run in edge_runs):
        raise ValueError("a device-profile run that was stopped cannot be part of a replay")
    # A replay is shown to a room as "measured on <cpu> at <date>": it holds only figures checked quiet.
    disturbed = [r.name for r in record.results if not r.clean]
    disturbed += [f"{f.name} under {run.profile.title}" for run in edge_runs for f in run.fits if f.disturbed]
    if disturbed:
        raise ValueError(f"a replay holds only figures measured in quiet windows, and these stayed disturbed: "
                         f"{', '.join(disturbed)}. Make it again on a quiet machine.")
    measured = {r.name for r in record.results}
    if any({f.name for f in run.fits} != measured for run in edge_runs):
        raise ValueError("each device-profile run must measure the replay's versions, no more and no fewer")
    trained: TrainedModel = record.trained
    state = {k: v.detach().cpu().contiguous() for k, v in trained.module.state_dict().items()}
    dtype, agreement = "float32", None
    if len(_state_bytes(state)) > WEIGHTS_FP32_MAX:
        dtype = "float16"
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        rounded = build_model(trained.spec)
        rounded.load_state_dict(state)
        dataset = dataset if dataset is not None else load_dataset(trained.dataset)
        agreement = float((_answers(rounded, dataset) == _answers(trained.module, dataset)).float().mean())
    blob = _state_bytes(state)
    model = {
        "spec": trained.spec.to_dict(), "dataset": trained.dataset, "config": trained.config.to_dict(),
        "test_accuracy": trained.test_accuracy, "seconds": trained.seconds, "train_seconds": trained.train_seconds,
        "samples_seen": trained.samples_seen, "completed": trained.completed, "layout": trained.layout,
        "precision": trained.precision, "train_images": trained.train_images,
        "test_loss": trained.test_loss if trained.test_loss is None or math.isfinite(trained.test_loss) else None,
        "outcome": trained.outcome.to_dict() if trained.outcome is not None else None,
        "history": [to_plain(e) for e in trained.history],
    }
    return {**record.to_dict(), "replay": {
        "format": FORMAT, "name": name, "title": title, "demo": demo, "command": command, "model": model,
        "steps": [to_plain(e) for e in steps if isinstance(e, StepEvent)],
        "edge": [run.to_dict() for run in edge_runs],
        "weights": {"dtype": dtype, "encoding": "base64 of torch.save(state_dict)",
                    "sha256": hashlib.sha256(blob).hexdigest(), "agreement_with_measured": agreement,
                    "data": base64.b64encode(blob).decode("ascii")},
    }}


# ---------------------------------------------------------------- reading one

def folder() -> Traversable:
    """Where the bundled replays live: assets/presets/ (dashboard.assets/presets when installed)."""
    return resources.files("dashboard.assets") / FOLDER


def names() -> list[str]:
    """The bundled replays by name, sorted."""
    where = folder()
    if not where.is_dir():
        return []
    return sorted(p.name[:-5] for p in where.iterdir() if p.name.endswith(".json") and _NAME.fullmatch(p.name[:-5]))


def _path(name: str) -> Traversable:
    """The bundled file of replay `name`; ReplayError for a name that is not one or that has no file."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ReplayError(f"{name!r} is not a replay's name (lower-case letters, digits and '-').")
    path = folder() / f"{name}.json"
    if not path.is_file():
        raise ReplayError(f"There is no replay named {name!r} (bundled: {', '.join(names()) or 'none'}).")
    return path


def load(name: str) -> Replay:
    """The bundled replay `name`; ReplayError for a name that is not one or a file that does not read."""
    path = _path(name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReplayError(f"The replay {name!r} could not be read: {exc.strerror or exc}.") from exc
    return read(raw, name)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] + "...") if len(text) > 160 else text or type(exc).__name__


def read(raw: bytes | str, name: str) -> Replay:
    """A replay from the bytes of its JSON, checked down to its weights loading into the model;
    ReplayError (one line, naming it) for anything that is not a usable replay."""
    def bad(why: str) -> ReplayError:
        return ReplayError(f"The replay {name!r} cannot be used: {why}.")

    if len(raw) > MAX_FILE_BYTES:
        raise bad(f"the file is {len(raw) / 1e6:.1f} MB, more than a replay's {MAX_FILE_BYTES / 1e6:.0f} MB")
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad(f"it is not valid JSON ({_one_line(exc)})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("replay"), dict):
        raise bad("it has no 'replay' block (a `run --json` report is not a replay: make one with "
                  "`python -m dashboard.course replay`)")
    meta = doc["replay"]
    if meta.get("format") != FORMAT:
        raise bad(f"its format is {meta.get('format')!r}; this lab reads format {FORMAT}")
    try:
        record = RunRecord.from_dict(doc)
    except Exception as exc:  # any malformed field: one line, never a traceback
        raise bad(f"its run record does not read ({_one_line(exc)})") from exc
    if not record.results or not any(r.available for r in record.results):
        raise bad("it has no measured versions")
    if record.stopped:
        raise bad(f"its run was stopped during {record.stopped}")
    try:
        model = meta["model"]
        spec = ModelSpec.from_dict(model["spec"])
        config = TrainConfig.from_dict(model["config"])
        history = [from_plain(EpochEvent, e) for e in model.get("history", [])]
        steps = [from_plain(StepEvent, e) for e in meta.get("steps", [])]
        outcome = Outcome.from_dict(model["outcome"]) if model.get("outcome") else None
        weights = meta["weights"]
        blob = base64.b64decode(weights["data"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise bad(f"its model block does not read ({_one_line(exc)})") from exc
    try:
        edge_runs = [_edge_run(run) for run in meta.get("edge", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"its device-profile runs do not read ({_one_line(exc)})") from exc
    if hashlib.sha256(blob).hexdigest() != weights.get("sha256"):
        raise bad("its weights do not match their checksum (the file was changed or cut short)")
    try:
        module = build_model(spec)
        module.load_state_dict(torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True))
        module.eval()
        trained = TrainedModel(spec, str(model["dataset"]), config, module, float(model["test_accuracy"]),
                               float(model["seconds"]), float(model["train_seconds"]), int(model["samples_seen"]),
                               bool(model["completed"]), model_cost(module, spec.in_shape), history=history,
                               layout=str(model.get("layout", "contiguous")),
                               precision=str(model.get("precision", "fp32")),
                               train_images=int(model.get("train_images", 0)), test_loss=model.get("test_loss"),
                               outcome=outcome)
    except Exception as exc:  # a state_dict that does not fit its model, a bad pickle
        raise bad(f"its weights do not load into a {model.get('spec', {}).get('name', '?')} model "
                  f"({_one_line(exc)})") from exc
    return Replay(name, str(meta.get("title") or name), record, trained, steps, bool(meta.get("demo")),
                  str(weights.get("dtype", "float32")), weights.get("agreement_with_measured"), edge_runs)


def _edge_run(d: dict) -> EdgeRun:
    """An EdgeRun back from EdgeRun.to_dict() (the Fits' derived figures are recomputed, not read)."""
    from dashboard.lab.deploy.edge import DeviceProfile, EdgeRun, Fit
    from dashboard.lab.energy import PerImageEnergy

    fits = []
    for f in d["fits"]:
        fit = from_plain(Fit, {k: v for k, v in f.items() if k != "energy"})
        fit.energy = PerImageEnergy.from_dict(f["energy"]) if f.get("energy") else None
        fits.append(fit)
    return EdgeRun(from_plain(DeviceProfile, d["profile"]), fits, str(d.get("machine", "")),
                   measured_at=float(d.get("measured_at") or 0.0), seconds=float(d.get("seconds") or 0.0),
                   stopped=bool(d.get("stopped")))


@lru_cache(maxsize=8)
def peek(name: str) -> Replay:
    """The bundled replay `name` without its model (`trained` is None, no weights loaded): its figures,
    title and label, for a page that offers it or a lesson check that reads it. ReplayError as `load`.
    The files are read-only parts of the package, so the answer is kept (callers must not change it)."""
    path = _path(name)
    try:
        doc = json.loads(path.read_bytes())
        meta, record = doc["replay"], RunRecord.from_dict(doc)
        edge_runs = [_edge_run(run) for run in meta.get("edge", [])]
        steps = [from_plain(StepEvent, e) for e in meta.get("steps", [])]
    except Exception as exc:  # whatever is wrong with it: one line
        raise ReplayError(f"The replay {name!r} cannot be used: it does not read ({_one_line(exc)}).") from exc
    return Replay(name, str(meta.get("title") or name), record, trained=None,  # type: ignore[arg-type]
                  steps=steps, demo=bool(meta.get("demo")), edge_runs=edge_runs)


def describe(name: str) -> tuple[str, str]:
    """(title, label) of the bundled replay `name` without loading its model: for a page that offers it."""
    r = peek(name)
    return r.title, r.label
