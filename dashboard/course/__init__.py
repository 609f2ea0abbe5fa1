"""The course: what teaches rather than computes. Lessons kept as markdown in the top-level lessons/
folder (lessons), their predictions held against the student's measurements (lesson_checks), the
presenter's run of show, bundled replays of a measured run, settings a link can carry (shareable),
and the lab's own code shown as it is (code_view).

May import: dashboard.lab. The lab never imports the course; the app's pages and dashboard.ui do.
"""
