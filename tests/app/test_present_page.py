"""AppTest for presenter mode and the Run of show page: ?mode=present turns presenter mode on (its CSS
on every page of the tab) and leaves the address; Next / Previous walk every step; ?step=N opens one;
Load the replay fills the session's results with the replay's label; Open switches page with its preset."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from dashboard.course import replay, run_of_show
from dashboard.lab import claims, fmt, settings
from dashboard.ui import board_view, presenter
from tests.app.drive import button, fresh, open_page, session
from tests.keys import PRESENTER_KEY

PRESENT = "app_pages/present.py"


def presenter_css(at: AppTest) -> bool:
    return any('id="presenter-mode"' in h.proto.body for h in at.get("html"))


def heading(at: AppTest) -> str:
    (h,) = [h.value for h in at.subheader if h.value.startswith("Step ")]
    return h


def presenter_tab() -> AppTest:
    """A tab whose session typed the presenter key (tests/conftest.py's), as the sidebar's box takes it."""
    at = fresh()
    at.text_input(key="presenter_key_typed").input(PRESENTER_KEY)
    at.button(key="presenter_unlock").click().run()
    assert session(at).presenter, [e.value for e in at.error]
    return at


def notes_expander(at: AppTest):
    (notes,) = [e for e in at.expander if e.label == "Presenter notes"]
    return notes


def with_query(**params: str) -> AppTest:
    at = presenter_tab()
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_mode_present_turns_presenter_mode_on_for_the_tab_and_leaves_the_address():
    at = with_query(mode="present")
    assert presenter_css(at) and at.toggle(key="presenter_mode").value is True
    assert "mode" not in at.query_params   # the Train and Compress pages never see a parameter they do not know
    for page in ("app_pages/train.py", PRESENT, "app_pages/home.py"):
        open_page(at, page)
        assert presenter_css(at), page
    # Kept in the session: a refresh (a new tab run on the same session) is still in presenter mode.
    assert session(at).forms["presenter"]["presenter_mode"] is True
    # The run of show says whose the threads are.
    open_page(at, PRESENT)
    threads = settings.current().threads
    assert any(f"Threads are the server's setting: {threads} for everyone" in c.value for c in at.caption)


def test_presenter_mode_needs_the_key_then_the_toggle_turns_it_off_and_on_and_the_lock_ends_it():
    at = fresh()
    assert not presenter_css(at) and not [t for t in at.toggle if t.key == "presenter_mode"]
    at = presenter_tab()
    assert presenter_css(at) and at.toggle(key="presenter_mode").value is True   # unlocking turns it on
    at.toggle(key="presenter_mode").set_value(False).run()
    assert not presenter_css(at)
    open_page(at, PRESENT)
    assert not presenter_css(at)
    assert not any("Threads are the server's setting" in c.value for c in at.caption)
    at.toggle(key="presenter_mode").set_value(True).run()
    assert presenter_css(at)
    at.button(key="presenter_lock").click().run()
    assert not presenter_css(at) and not session(at).presenter
    assert not [t for t in at.toggle if t.key == "presenter_mode"]


def test_next_and_previous_walk_every_step_and_the_address_follows():
    steps = run_of_show.steps()
    at = open_page(presenter_tab(), PRESENT)
    assert not at.warning   # the run of show loads whole
    seen = [heading(at)]
    assert button(at, "Previous").disabled
    while not button(at, "Next").disabled:
        button(at, "Next").click().run()
        assert not at.exception
        seen.append(heading(at))
        assert at.query_params["step"] == str(len(seen))
    assert seen == [f"Step {i} of {len(steps)}: {s.title}" for i, s in enumerate(steps, 1)]
    for s in steps[::-1][1:]:
        button(at, "Previous").click().run()
        assert heading(at).endswith(s.title)
    assert button(at, "Previous").disabled and at.query_params["step"] == "1"
    # Each step shows its notes and its page's button.
    expander = notes_expander(at)
    assert expander.label == "Presenter notes"
    assert steps[0].notes[0] in expander.markdown[0].value
    assert button(at, "Open Home for the room")


def test_the_students_link_follows_the_address_the_presenter_types_and_keeps_it():
    at = open_page(presenter_tab(), PRESENT)
    # AppTest has no browser address: a relative link and no QR code until one is typed.
    assert [c.value for c in at.code] == ["./"] and not at.get("image")
    at.text_input(key="ros_base").input("http://192.168.1.20:8501").run()
    button(at, "Next").click().run()
    assert [c.value for c in at.code] == ["http://192.168.1.20:8501/train?preset=lesson-train"]
    assert len(at.get("image")) == 1   # the QR code (its content: tests/unit/test_replay.py)
    open_page(at, "app_pages/train.py")
    open_page(at, PRESENT)
    assert at.text_input(key="ros_base").value == "http://192.168.1.20:8501"
    at.text_input(key="ros_base").input("http://localhost:8501").run()
    assert any("this computer's own address" in w.value for w in at.warning)


def test_step_in_the_address_opens_that_step_and_a_bad_one_says_so():
    at = with_query(step="3")
    open_page(at, PRESENT)
    # The page is opened by switch_page in the test, which keeps the query: step 3 is shown.
    assert heading(at) == f"Step 3 of {len(run_of_show.steps())}: Compress and measure"
    assert button(at, "Open Compress & benchmark for the room")
    assert any("preset" in c.value and "Compress" in c.value for c in at.caption)
    for bad in ("99", "0", "²", "two"):
        at.query_params["step"] = bad
        at.run()
        assert not at.exception, bad
        assert any("not one of steps 1 to 6; it was ignored" in w.value for w in at.warning), bad
        assert heading(at).startswith("Step 3 of")   # an unusable step leaves the one shown


def test_load_the_replay_fills_the_results_with_its_label():
    at = open_page(presenter_tab(), PRESENT)
    button(at, "Load the replay").click().run()
    assert not at.exception, [e.value for e in at.exception]
    s = session(at)
    assert s.trained is not None and s.results[0].name == "fp32"
    assert s.results_note.startswith("a replay: measured on ") and s.results_note.endswith("not now on this server")
    assert any(s.results_note in i.value for i in at.info)
    assert any("Loaded *" in n.value for n in at.info)   # the notice, shown once
    # The sidebar says where the model comes from on every page (Train and the comparison draw it unlabelled).
    for page in ("app_pages/train.py", "app_pages/compare.py"):
        open_page(at, page)
        assert [i.value for i in at.sidebar.info] == [f"Your model comes from {s.results_note}."], page
    # The Compress page shows them as such, with its Measure afresh.
    open_page(at, "app_pages/compress.py")
    assert any(f"These figures were {s.results_note}" in i.value for i in at.info)
    assert any(c.value.startswith("Measured on the replay's machine with") for c in at.caption)
    button(at, "Measure afresh")


def test_open_switches_to_the_steps_page_with_its_preset():
    at = open_page(presenter_tab(), PRESENT)
    button(at, "Next").click().run()
    button(at, "Next").click().run()
    button(at, "Open Compress & benchmark for the room").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Compress & benchmark"]
    # lesson-compress: ONNX Runtime on, int8 dynamic off; the page took it without a notice.
    saved = session(at).forms["compress"]
    assert saved["c_onnx"] is True and saved["c_int8_dynamic"] is False
    assert not at.warning


def test_the_notes_quote_figures_from_the_replay_and_say_so_then_from_the_session():
    at = open_page(presenter_tab(), PRESENT)
    for _ in range(2):
        button(at, "Next").click().run()
    notes = notes_expander(at).markdown[0].value
    peeked = replay.peek("lesson")
    sizes = {r.name: r.size_bytes for r in peeked.record.results}
    assert f"fp32's file is {fmt.size(sizes['fp32'])}:" in notes and "int8-static 3.89× smaller" in notes
    captions = [c.value for c in at.caption]
    assert f"Figures in these notes: from the step's replay ({peeked.label})." in captions
    # Once the session has its own model (here: the demo replay loaded), its figures come first, labelled.
    button(at, "Load the replay").click().run()
    s = session(at)
    assert s.trained is not None
    notes = notes_expander(at).markdown[0].value
    fp32 = next(r for r in s.results if r.name == "fp32")
    assert f"fp32 answers {fmt.pct(fp32.accuracy)} of the test images right" in notes
    assert any(c.value.startswith(f"Figures in these notes: from this session's model ({s.results_note})")
               for c in at.caption)


def test_the_room_address_typed_on_run_of_show_is_the_boards_and_the_share_links(data_dir):
    at = presenter_tab()
    at.context["url"] = "http://localhost:8501/present"
    at.toggle(key=presenter.KEY).set_value(True).run()
    open_page(at, PRESENT)
    # Nothing typed: the address as the server sees it, said as such.
    assert [c.value for c in at.code][0] == "http://localhost:8501/"
    assert any("this computer's own address" in w.value for w in at.warning)
    at.query_params[board_view.PARAM] = "room-1"
    open_page(at, "app_pages/board.py")
    assert "http://localhost:8501/board?class=ROOM-1" in [c.value for c in at.code]
    assert any(presenter.SERVER_SEEN in c.value for c in at.caption)
    # Typed on Run of show: the board's link and QR code use it, and the share links on Train too.
    open_page(at, PRESENT)
    at.text_input(key=presenter.ROOM_KEY).input("http://192.168.1.20:8501/").run()
    open_page(at, "app_pages/board.py")
    assert "http://192.168.1.20:8501/board?class=ROOM-1" in [c.value for c in at.code]
    assert not any(presenter.SERVER_SEEN in c.value for c in at.caption)
    open_page(at, "app_pages/train.py")
    at.select_slider(key="train_batch").set_value(256).run()
    assert "http://192.168.1.20:8501/train?batch=256" in [c.value for c in at.code]
    # Not an address: said so, and the links keep the server's until it is one.
    open_page(at, PRESENT)
    at.text_input(key=presenter.ROOM_KEY).input("192.168.1.20").run()
    assert any("must start with http://" in w.value for w in at.warning)
    assert [c.value for c in at.code][0] == "http://localhost:8501/"


def test_every_steps_notes_say_only_what_their_numbers_say(tiny_trained):
    """The consistency check (tests/app/test_consistency.py) on every step of the run of show, for a session
    with the awkward measurements: the notes' figures are claims of lab.claims that hold."""
    from tests.app.consistency_check import claim_problems, measured_session, page_texts, text_problems

    at = measured_session("awkward", tiny_trained)
    session(at).presenter = True   # as if the key was typed: the run of show is the presenter's page
    at.run()
    open_page(at, PRESENT)
    for i, step in enumerate(run_of_show.steps()):
        if i:
            button(at, "Next").click().run()
        with claims.recording() as recorded:
            at.run()
        problems = [p for c in recorded for p in claim_problems(c)] + text_problems(page_texts(at), recorded)
        assert not problems, (heading(at), problems)
        if any(run_of_show.NOTE_FACT.search(n) for n in step.notes):   # figures: the session's own, said so
            assert any(c.value.startswith("Figures in these notes: from this session's model, measured here")
                       for c in at.caption), step.key
