"""Lessons: the course, one lesson at a time (read, predict, try it, check, quiz), and the glossary."""

from dashboard.ui import lesson_view, session

lesson_view.trail_done()   # back from a lesson's Try it: no "Back to lesson" bar here
s = session.page("Lessons", "Six short lessons. Each one explains an idea, asks you to predict what the lab will "
                            "show, sends you to try it on your own model, then checks what you saw.")
found, errors, terms = lesson_view.load()
lesson_view.looked_up(terms)   # a glossary link from another page: its term first
lesson = lesson_view.chosen(found)
if lesson is None:
    lesson_view.course(s, found, errors)
else:
    lesson_view.reader(s, lesson, found)
lesson_view.glossary_section(terms)
lesson_view.at_top()
