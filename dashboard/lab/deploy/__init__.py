"""Deploying: the student's model as files to take away (export), run under a device's limits (edge),
cloud against edge for one request (cloud_edge), and published figures about real systems (published).

May import: every other room of dashboard.lab; nothing in the lab imports deploy/ but the CLI.
"""
