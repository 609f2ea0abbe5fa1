"""Class board: post your best measured result under a nickname to your class's board, see the room's
entries and who leads each challenge."""

import streamlit as st

from dashboard.ui import board_view, session, widgets

s = session.page("Class board",
                 "Post your best result under a nickname (no account) and see the room's. What you post is one of "
                 "your own measured versions, figures as measured: nothing is typed in.")

FORM = {board_view.CLASS_KEY: "", board_view.NICK_KEY: ""}
board_view.class_from_link(s, "board")
widgets.restore(s, "board", FORM)
c1, c2 = st.columns(2)
c1.text_input("Class code", key=board_view.CLASS_KEY, placeholder="e.g. ROOM-12", on_change=board_view.tidy_class_code,
              help="Your presenter tells the room the code (or gives a link with it). Everyone with the same code "
                   "sees the same board.")
c2.text_input("Your nickname", key=board_view.NICK_KEY, placeholder="up to 24 characters",
              help="Shown to the whole room beside your result. No account: the first session to post under a "
                   "nickname in a class keeps it, and your later post under it replaces yours. A nickname that "
                   "looks like a taken one (other case, letters of another alphabet, invisible characters) is "
                   "refused.")
f = widgets.save(s, "board", FORM)

board = board_view.open_board()
code = board_view.class_code(f[board_view.CLASS_KEY])
if code is None and not f[board_view.CLASS_KEY].strip():
    st.info("Type the class code your presenter gave the room to see its board and post to it.",
            icon=":material/groups:")

st.subheader("Post your best result")
board_view.post_form(s, board, code, f[board_view.NICK_KEY])
st.subheader("Post my device's figures")
board_view.device_post_form(s, board, code, f[board_view.NICK_KEY])

if board is not None and code is not None:
    board_view.live_board(board, code)
    board_view.presenter_tools(s, board, code)
