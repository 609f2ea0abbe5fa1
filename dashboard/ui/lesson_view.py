"""The Lessons page's parts: the course with each lesson's progress, one lesson's reader, the glossary.

The reader follows a lesson file's order: the lesson, its figure, a prediction the student makes
before the experiment (the Try it button waits for it), what the experiment should show held
against the student's own results (course.lesson_checks; a replay's, labelled, while they have none),
with whether the prediction was right, what it means for four kinds of reader, the sources, then
the quiz. Try it opens what the lesson names and leaves a trail: the page it opened (and every page
after it, until the student is back on Lessons) shows "Back to lesson N" and, once the model was
replaced there, "Restore your earlier model" (Session.restore_previous). The lessons are content that
course.lessons parses and checks; here only Streamlit and the student's progress, kept in the Session:

    s.lessons[slug] = {"read": True, "prediction": "No, about the same speed", "quiz": {0: 1, 1: 1}}

The lessons come from the package (lessons/ in the checkout) or, when $TRAIN_INFER_LAB_LESSONS_DIR
names a folder, from there: a teacher tries a course of their own, a test a malformed file.

Why one module of this size: the reader is one page's sequence (lesson, prediction, check, quiz, the
trail back), each part reading the progress the one before it wrote.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.course import lesson_checks, lessons, replay, run_of_show, shareable
from dashboard.lab import claims, fmt, settings
from dashboard.lab.compression.compress import resolve_names
from dashboard.course.lessons import Lesson, LessonError
from dashboard.service.sessions import Session
from dashboard.ui import glossary, home_charts, share

ROOT_ENV = "TRAIN_INFER_LAB_LESSONS_DIR"
THIS_PAGE = "app_pages/lessons.py"
QUERY = "lesson"          # ?lesson=04-smaller-faster-models opens that lesson
OPEN = "lessons_open"     # st.session_state: the slug this tab reads (None: the course list)
PICK = "lessons_pick"     # the reader's lesson selectbox
TO_TOP = "lessons_to_top"  # st.session_state: a lesson was opened, the next run starts at the page's top (a count)
TRAIL = "lessons_trail"    # st.session_state: the lesson this tab's Try it came from (slug, order, title, model digest)

# ![alt](figure:NAME) in a lesson's Figure section: the charts the page can draw.
FIGURES = {"training-vs-inference": home_charts.training_vs_inference_diagram}
CHECK_BOX = {lesson_checks.MATCHES: (st.success, ":material/check_circle:"),
             lesson_checks.DIFFERS: (st.warning, ":material/help:"),
             lesson_checks.NO_RESULT: (st.info, ":material/hourglass_empty:")}
_URL = re.compile(r"(https?://\S+?)([.,;)]?)(?=\s|$)")


# ------------------------------------------------------------------ the course, its progress

def taught(text: str) -> str:
    """Course content as its file has it (a lesson, the glossary): fixed teaching text, no figure of this
    run in it, recorded as such for the app's consistency check (lab.claims.statement). Stripped, as
    st.markdown shows it."""
    return claims.statement(text.strip())


def app_page(url: str) -> run_of_show.AppPage:
    """A lesson's or preset's page (url path, one of lessons.PAGES; "" is Home) as dashboard/app.py declares it."""
    return run_of_show.bundled_pages()[url or run_of_show.HOME]


def root() -> Path | None:
    """The lessons folder $TRAIN_INFER_LAB_LESSONS_DIR names, or None for the bundled course. Read when the
    page runs (a teacher may point it elsewhere), checked as at the server's start (lab.settings): a value the
    settings refused is the bundled course, as the server log said."""
    checked = settings.load({ROOT_ENV: os.environ.get(ROOT_ENV, "")})[0].lessons_dir
    return Path(checked) if checked else None


def load() -> tuple[list[Lesson], list[LessonError], dict[str, str]]:
    """The lessons, one error per file that cannot be used, and the glossary (the bundled one when
    the folder has none). A folder that cannot be read is one error, not a broken page."""
    folder = root()
    try:
        found, errors = lessons.load_lessons(folder)
    except OSError as exc:
        # Which folder is the server's business (its log), not a student's.
        logging.getLogger("train_infer_lab.lessons").warning("the lessons folder %s cannot be read: %s", folder, exc)
        return [], [LessonError("", f"The lessons folder of this server cannot be read "
                                    f"({exc.strerror or 'unreadable'}).")], {}
    try:
        terms = lessons.load_glossary(folder)
    except (OSError, UnicodeDecodeError):
        terms = {}
    return found, errors, terms or (lessons.load_glossary() if folder is not None else {})


def progress(s: Session, slug: str) -> dict[str, Any]:
    """The student's progress in one lesson (created empty on first use)."""
    p = s.lessons.setdefault(slug, {})
    p.setdefault("read", False)
    p.setdefault("prediction", None)
    p.setdefault("quiz", {})
    return p


def progress_text(lesson: Lesson, p: dict[str, Any] | None) -> tuple[str, str]:
    """(colour, words) of a lesson's progress: not started, read, the quiz's score."""
    if not p or not (p.get("read") or p.get("quiz")):
        return "gray", "not started"
    sc = lessons.score(lesson, p.get("quiz") or {})
    if sc.answered == sc.total:
        return ("green" if sc.correct == sc.total else "orange"), f"quiz: {sc.correct} of {sc.total} right"
    if sc.answered:
        return "blue", f"read · quiz: {sc.answered} of {sc.total} answered"
    return "blue", "read"


def badge(lesson: Lesson, p: dict[str, Any] | None) -> str:
    colour, words = progress_text(lesson, p)
    return f":{colour}-badge[{words}]"


def go_to(slug: str | None) -> None:
    """Open a lesson (None: the course list), starting at the top of the page (see at_top)."""
    st.session_state[OPEN] = slug
    st.session_state[TO_TOP] = st.session_state.get(TO_TOP, 0) + 1
    st.switch_page(THIS_PAGE, query_params={QUERY: slug} if slug else None)


def at_top() -> None:
    """After go_to, scroll the page to its top: Streamlit keeps the scroll position when the same page
    runs again, so a lesson opened from the bottom of the list would start in its middle. Called last,
    so the script runs once the new content is drawn; the count makes each one a new element."""
    if st.session_state.get(TO_TOP) and st.session_state.get(f"{TO_TOP}_done") != st.session_state[TO_TOP]:
        st.session_state[f"{TO_TOP}_done"] = st.session_state[TO_TOP]
        st.html(f"<script>/* {st.session_state[TO_TOP]} */ for (const e of [document.scrollingElement, "
                "document.querySelector('[data-testid=\"stMain\"]'), "
                "document.querySelector('[data-testid=\"stAppViewContainer\"]')]) if (e) e.scrollTop = 0;</script>",
                unsafe_allow_javascript=True)


def _picked() -> None:
    # (A callback cannot change page; the selectbox sits at the top, so the page is there already.)
    slug = st.session_state.get(PICK)   # None: the student cleared it, back to the list
    st.session_state[OPEN] = slug
    if slug is None:
        st.query_params.pop(QUERY, None)
    else:
        st.query_params[QUERY] = slug


def chosen(found: list[Lesson]) -> Lesson | None:
    """The lesson this tab reads: from ?lesson=SLUG (checked) or the tab's last choice; None: the list."""
    by_slug = {x.slug: x for x in found}
    wanted = st.query_params.get(QUERY)
    if wanted is not None and wanted != st.session_state.get(OPEN):
        if wanted in by_slug:
            st.session_state[OPEN] = wanted
        else:
            st.warning(f"There is no lesson {share.plain(shareable.quote(wanted))} in this course: pick one below.",
                       icon=":material/link_off:")
            st.query_params.pop(QUERY, None)
    lesson = by_slug.get(st.session_state.get(OPEN))
    if lesson is None:
        st.session_state[OPEN] = None
    elif st.query_params.get(QUERY) != lesson.slug:
        st.query_params[QUERY] = lesson.slug   # the address opens this lesson again (a refresh, a link)
    return lesson


def course(s: Session, found: list[Lesson], errors: list[LessonError]) -> None:
    """Every lesson as a card: order, title, minutes, objectives, progress, and a button to open it."""
    if not found and not errors:
        st.info("This course has no lessons yet.", icon=":material/school:")
    cols = [c for _ in range((len(found) + 1) // 2) for c in st.columns(2)]
    for col, lesson in zip(cols, found):
        with col.container(border=True):
            st.markdown(f"**{lesson.order}. {taught(lesson.title)}**  \n"
                        f":material/schedule: {lesson.minutes} min · {badge(lesson, s.lessons.get(lesson.slug))}")
            st.markdown("\n".join(f"- {taught(o)}" for o in lesson.objectives))
            if st.button("Open", key=f"lessons_open_{lesson.slug}", icon=":material/menu_book:"):
                go_to(lesson.slug)
    for e in errors:
        st.error(f"A lesson could not be loaded: {share.plain(e.message)}", icon=":material/error:")


# ------------------------------------------------------------------ one lesson

def _links(text: str) -> str:
    """Bare URLs as markdown links (a source's trailing full stop stays outside)."""
    return _URL.sub(lambda m: f"[{m.group(1)}]({m.group(1)}){m.group(2)}", text)


def figure(lesson: Lesson) -> None:
    """The Figure section: its markdown, with each ![..](figure:NAME) drawn as the chart of that name."""
    text = lesson.sections[lessons.FIGURE]
    parts = lessons.FIGURE_REF.split(text)   # text, alt, name, text, alt, name, ..., text
    for i in range(0, len(parts), 3):
        if parts[i].strip():
            st.markdown(taught(parts[i]))
        if i + 2 < len(parts):
            alt, name = parts[i + 1], parts[i + 2]
            if name in FIGURES:
                st.plotly_chart(FIGURES[name](), key=f"lesson_figure_{lesson.slug}_{i}",
                                config={"displayModeBar": False, "staticPlot": True})
                if alt:
                    st.caption(alt)
            else:
                st.caption(f"(The figure {share.plain(alt)} is missing: this lab draws no figure named "
                           f"{share.plain(name)}; it draws {share.plain(', '.join(FIGURES))}.)")


def predict(s: Session, lesson: Lesson, p: dict[str, Any]) -> str | None:
    """The prediction (kept in the Session), then Try it, enabled once the student has predicted."""
    options = lesson.prediction.options
    key = f"lesson_predict_{lesson.slug}"
    if key not in st.session_state and p.get("prediction") in options:
        st.session_state[key] = options.index(p["prediction"])
    st.markdown(f"**{taught(lesson.prediction.question)}**")   # the question in full size, readable on a projector
    pick = st.radio(lesson.prediction.question, range(len(options)), index=None, key=key,
                    format_func=options.__getitem__, label_visibility="collapsed")
    p["prediction"] = options[pick] if pick is not None else None

    preset = shareable.presets().get(lesson.preset) if lesson.preset else None
    target = app_page(preset.page if preset is not None else lesson.page)
    if st.button("Try it", type="primary", icon=":material/science:", disabled=pick is None,
                 key=f"lesson_try_{lesson.slug}"):
        st.session_state[TRAIL] = {"slug": lesson.slug, "order": lesson.order, "title": lesson.title,
                                   "digest": s.digest}
        if preset is not None:
            # Pressing Try it again re-applies the settings, even after the student changed them.
            st.session_state.pop(share.APPLIED.format(page=preset.page), None)
        elif lesson.preset:
            s.notify("warning", f"The lesson's settings ({share.plain(lesson.preset)}) are not available on this "
                                "server; set them by hand.")
        st.switch_page(target.script, query_params={shareable.PRESET_PARAM: preset.name} if preset is not None else None)
    if pick is None:
        st.caption("Choose your prediction first: then try it, and see whether you were right.")
    elif preset is not None:
        st.caption(f"Opens **{target.title}** with this lesson's settings already chosen: *{preset.title}*. "
                   + KEEPS)
    else:
        st.caption(f"Opens **{target.title}**. " + KEEPS)
    restore_button(s, f"lesson_restore_{lesson.slug}")
    return p["prediction"]


KEEPS = ("Your model is kept: if you train or load another there, **Restore your earlier model** brings it back "
         "in one click, there or here.")


def _restore(s: Session) -> None:
    if s.restore_previous():
        t = s.trained
        s.notify("success", f"Your earlier model is back ({t.spec.name}, {fmt.pct(t.test_accuracy)} test accuracy), "
                            "with its results; the one it replaced is kept too: restore again to swap back.")
    else:
        s.notify("warning", "Nothing was restored: wait for the running job to end, then try again.")


def restore_button(s: Session, key: str, where=None) -> None:
    """"Restore your earlier model (cnn, 96.9 %)": the model the last training or replay replaced, in one
    click (Session.restore_previous); nothing when there is none."""
    kept = s.previous
    if kept is None:
        return
    t = kept.trained
    (where or st).button(f"Restore your earlier model ({t.spec.name}, {fmt.pct(t.test_accuracy)})", key=key,
                         on_click=_restore, args=(s,), disabled=s.busy, icon=":material/undo:",
                         help="Puts back the model you had before, with what was measured on it; the current one "
                              "is kept in its place, so a second click swaps back. Your list of runs stays.")


def trail(s: Session) -> None:
    """On every page after a lesson's Try it, above the page (called before it): the way back to the lesson
    and, once the model was replaced since, the earlier one back. Gone once the student is back on Lessons."""
    came = st.session_state.get(TRAIL)
    if not came:
        return
    with st.container(key="lessons_trail_bar", horizontal=True, vertical_alignment="center"):
        if st.button(f"Back to lesson {came['order']}: {came['title']}", icon=":material/arrow_back:",
                     key="lessons_trail_back"):
            st.session_state.pop(TRAIL, None)
            go_to(came["slug"])
        if s.digest != came["digest"]:
            restore_button(s, "lessons_trail_restore")


def trail_done() -> None:
    """The Lessons page's first call: the student is back, so the trail goes (drawn once more above this
    run, so run again without it)."""
    if st.session_state.pop(TRAIL, None):
        st.rerun()


def evidence(s: Session) -> lesson_checks.Evidence:
    """The session's own figures as a check reads them: its device runs only where they were measured on
    its current model and versions (as the Edge & cloud page shows them)."""
    names = tuple(resolve_names([r.name for r in s.results] or ["fp32"]))
    runs = {k: run for k, run in s.edge_runs.items() if run.key[:2] == (s.digest, names)}
    return lesson_checks.Evidence(list(s.results), s.trained, None, s.training_energy, runs, s.settings)


def replay_evidence(name: str | None, s: Session) -> tuple[str, lesson_checks.Evidence] | None:
    """(label, figures) of a bundled replay, priced with the session's assumptions; None without one."""
    if not name:
        return None
    try:
        r = replay.peek(name)
    except replay.ReplayError:
        return None
    return r.label, r.evidence(s.settings)


def verdict(lesson: Lesson, prediction: str, outcome: lesson_checks.CheckOutcome, whose: str) -> str:
    """"You predicted: *X*. **Right**: your run says so too." or what the run says instead."""
    options = lesson.prediction.options
    said = options[outcome.answer] if outcome.answer is not None and outcome.answer < len(options) else None
    if said is None:
        return f"You predicted: *{taught(prediction)}*"
    if said == prediction:
        return f"You predicted: *{taught(prediction)}*. **Right**: {whose} says so too."
    return f"You predicted: *{taught(prediction)}*. {whose[0].upper() + whose[1:]} says: **{taught(said)}**."


def should_see(s: Session, lesson: Lesson, prediction: str | None) -> None:
    """What the experiment shows, and the student's own results held against it: a replay's, labelled,
    while theirs cannot say yet, with what to run for their own."""
    if prediction is None:
        st.caption("Make your prediction above first; then this part says what the experiment shows.")
        return
    st.markdown(taught(lesson.sections[lessons.SHOULD_SEE]))
    if not lesson.check:
        st.info(f"You predicted: *{prediction}*", icon=":material/psychology:")
        return
    own = lesson_checks.held(lesson.check, evidence(s))
    if own.status == lesson_checks.NO_RESULT and (fallback := replay_evidence(lesson.replay, s)) is not None:
        label, figures = fallback
        theirs = lesson_checks.held(lesson.check, figures)
        if theirs.status != lesson_checks.NO_RESULT:
            show, icon = CHECK_BOX[theirs.status]
            show(f"**With a replay's results** ({label}), since yours cannot say yet: {theirs.text}\n\n"
                 + verdict(lesson, prediction, theirs, "the replay"), icon=icon)
            st.caption(f"**To check it with your own run:** {own.text}")
            return
    show, icon = CHECK_BOX[own.status]
    show(f"**With your results:** {own.text}\n\n" + verdict(lesson, prediction, own, "your run"), icon=icon)


def perspectives(lesson: Lesson) -> None:
    tabs = st.tabs(list(lesson.perspectives))
    for tab, text in zip(tabs, lesson.perspectives.values()):
        tab.markdown(taught(text))


def sources(lesson: Lesson) -> None:
    st.markdown("\n".join(f"{n}. {_links(taught(entry))}" for n, entry in enumerate(lesson.sources, start=1)))


def _quiz_key(lesson: Lesson, i: int) -> str:
    return f"lesson_quiz_{lesson.slug}_{i}"


def _retry(lesson: Lesson, p: dict[str, Any]) -> None:
    p["quiz"] = {}
    for i in range(len(lesson.quiz)):
        st.session_state.pop(_quiz_key(lesson, i), None)


def quiz(lesson: Lesson, p: dict[str, Any]) -> lessons.Score:
    """Each question once: after an answer, right or wrong and why; the score in the Session."""
    answers: dict[int, int] = p.setdefault("quiz", {})
    for i, q in enumerate(lesson.quiz):
        key = _quiz_key(lesson, i)
        a = st.session_state.get(key)          # just answered
        if a is None:
            saved = answers.get(i)             # answered before (another page, another visit)
            a = saved if isinstance(saved, int) and 0 <= saved < len(q.options) else None
        label, shown = f"**{i + 1}. {taught(q.text)}**", range(len(q.options))
        if a is None:
            answers.pop(i, None)
            with st.container(border=True):
                st.radio(label, shown, index=None, key=key, format_func=q.options.__getitem__)
            continue
        answers[i] = a
        # The answer, final until Try again: shown as text (a disabled radio would be faded on a projector).
        with st.container(border=True, key=f"{key}_done"):
            st.markdown(f"{label}  \n" + "  \n".join(
                f":material/radio_button_checked: **{taught(option)}**" if j == a else
                f":material/radio_button_unchecked: {taught(option)}" for j, option in enumerate(q.options)))
            if a == q.answer:
                st.success(f"**Right.** {taught(q.explanation)}", icon=":material/check:")
            else:
                st.error(f"**Not quite:** the answer is *{taught(q.options[q.answer])}*. {taught(q.explanation)}",
                         icon=":material/close:")
    sc = lessons.score(lesson, answers)
    left, right = st.columns([3, 1], vertical_alignment="center")
    if sc.answered == sc.total:
        left.markdown(f"**Your score: {sc.correct} of {sc.total}.**"
                      + (" All right!" if sc.correct == sc.total else " Read the explanations, then try again."))
    else:
        left.caption(f"{sc.answered} of {sc.total} answered. Each answer is final until you try again.")
    right.button("Try again", key=f"lesson_retry_{lesson.slug}", on_click=_retry, args=(lesson, p),
                 icon=":material/restart_alt:", disabled=sc.answered == 0)
    return sc


def reader(s: Session, lesson: Lesson, found: list[Lesson]) -> None:
    """One lesson, top to bottom, as its file orders it; opening it marks it read."""
    p = progress(s, lesson.slug)
    p["read"] = True
    back, pick = st.columns([1, 3], vertical_alignment="bottom")
    if back.button("All lessons", icon=":material/arrow_back:", key="lessons_back"):
        go_to(None)
    st.session_state[PICK] = lesson.slug
    titles = {x.slug: f"{x.order}. {x.title}" for x in found}
    pick.selectbox("Lesson", list(titles), index=None, key=PICK, on_change=_picked, format_func=titles.__getitem__)

    st.header(f"{lesson.order}. {taught(lesson.title)}", anchor=False)
    st.markdown(f":material/schedule: {lesson.minutes} min · {badge(lesson, p)}  \n**You will learn to:**\n"
                + "\n".join(f"- {taught(o)}" for o in lesson.objectives))
    st.subheader("Lesson", anchor=False)
    st.markdown(taught(lesson.sections[lessons.LESSON]))
    st.subheader("Figure", anchor=False)
    figure(lesson)
    st.subheader("Predict, then check", anchor=False)
    prediction = predict(s, lesson, p)
    st.subheader("What you should see", anchor=False)
    should_see(s, lesson, prediction)
    st.subheader("What it means for you", anchor=False)
    perspectives(lesson)
    st.subheader("Sources", anchor=False)
    sources(lesson)
    st.subheader("Quiz", anchor=False)
    quiz(lesson, p)

    st.divider()
    later = [x for x in found if x.order > lesson.order]
    back, ahead = st.columns(2)
    if back.button("All lessons", icon=":material/arrow_back:", key="lessons_back_end"):
        go_to(None)
    if later and ahead.button(f"Next: {later[0].order}. {later[0].title}", icon=":material/arrow_forward:",
                              key="lessons_next", type="primary"):
        go_to(later[0].slug)


# ------------------------------------------------------------------ the glossary

def _close_term() -> None:
    st.query_params.pop(glossary.QUERY, None)


def looked_up(terms: dict[str, str]) -> None:
    """The term a link asked for (?term=p95, see ui.glossary) with its definition, first on the page."""
    wanted = st.query_params.get(glossary.QUERY)
    if wanted is None:
        return
    by_anchor = {lessons.glossary_anchor(t): t for t in terms}
    term = by_anchor.get(wanted)
    if term is None:
        st.warning(f"The glossary has no term {share.plain(shareable.quote(wanted))}: see the whole glossary below.",
                   icon=":material/link_off:")
        return
    with st.container(border=True, key="lessons_term"):
        text, close = st.columns([6, 1])
        text.markdown(f"**{taught(term)}** · from the [glossary](#glossary)\n\n{taught(terms[term])}")
        close.button("Close", on_click=_close_term, icon=":material/close:", key="lessons_term_close")


def glossary_section(terms: dict[str, str]) -> None:
    """Every term under a heading whose anchor is glossary_anchor(term), so `#p95` on this page lands on it."""
    st.header("Glossary", anchor="glossary", divider="gray")
    if not terms:
        st.caption("No glossary in this course.")
        return
    st.caption("The words the lab uses, in plain language. Links on the other pages lead here.")
    items = list(terms.items())
    for i in range(0, len(items), 2):
        for col, (term, text) in zip(st.columns(2), items[i:i + 2]):
            with col:
                st.subheader(taught(term), anchor=lessons.glossary_anchor(term))
                st.markdown(taught(text))
