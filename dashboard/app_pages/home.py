"""Home: what training and inference are, the path through the app, this machine, the one-click demo."""

import streamlit as st

from dashboard.lab import claims, hardware, settings
from dashboard.ui import demo, explain, home_charts, session

s = session.page("Train & Infer Lab")
st.markdown(
    "**Training** teaches a model: it shows the model thousands of labelled images, measures how wrong "
    "it is, and nudges every weight to be a little less wrong, over and over. It is done once, and it is "
    "expensive. **Inference** uses the trained model: one image in, one answer out, weights untouched. "
    "It is cheap per image, but it happens every time someone uses the model, possibly billions of times.")
st.plotly_chart(home_charts.training_vs_inference_diagram(), key="home_diagram",
                config={"displayModeBar": False, "staticPlot": True})

st.subheader("The path through the lab")
st.markdown("Follow the course in **Lessons**: six short lessons, each opens its experiment and ends with a quiz. "
            "Or go through the pages yourself:")
st.page_link("app_pages/lessons.py", label="Lessons", icon=":material/school:")
cols = [c for _ in range(4) for c in st.columns(2)]   # 4 x 2: the titles fit a projector's width
steps = [
    ("app_pages/train.py", "1. Train", "Pick a dataset and a model, watch loss and accuracy move live, "
                                        "then look inside: mistakes, confusion matrix, weights."),
    ("app_pages/compress.py", "2. Compress & benchmark", "Prune, quantize and distil your model; measure "
                                                         "speed, size, accuracy and energy of each version."),
    ("app_pages/try_it.py", "3. Try it yourself", "Draw a digit or upload a picture: every version of your "
                                                  "model answers, and you see how long each took."),
    ("app_pages/compare.py", "4. Training vs inference", "What one image costs in training against inference, "
                                                         "memory included, and when inference overtakes training."),
    ("app_pages/hardware.py", "5. Hardware", "This machine's top speed for each number format, and how much "
                                             "of it your model uses."),
    ("app_pages/edge.py", "6. Edge & cloud", claims.statement("Which versions fit a phone or a microcontroller, and "
                                                              "whether an answer comes sooner from the cloud or from "
                                                              "the device.")),
    ("app_pages/results.py", "7. Results", "Every run of this session side by side, on a chart and in a table; "
                                           "download CSV or JSON."),
    ("app_pages/board.py", "8. Class board", "In a workshop: post your best result under a nickname and see "
                                             "the room's, with a few challenges."),
]
for col, (path, title, text) in zip(cols, steps):
    with col.container(border=True):
        st.page_link(path, label=title)
        st.caption(text)

st.subheader("Or run the whole demo")
st.markdown("Trains the default model on the bundled digits, compresses it, measures every version and fills in "
            "the comparison: the whole lab in one click, about 20 seconds on a 2-core laptop. If someone on this "
            "server already ran it with the same settings, you get their measurements at once, labelled as such.")
demo.button(s)

st.subheader("This machine")
hw = hardware.describe()
a, b, c = st.columns(3)
a.metric("Compute device", hw.device.upper(), help=hw.device_name)
b.metric("CPU cores (logical)", f"{hw.logical_cores}")
c.metric("PyTorch threads", f"{settings.current().threads}",
         help="The server's setting (TRAIN_INFER_LAB_THREADS), the same for every job of every user.")
st.markdown("\n".join(f"- {line}" for line in explain.machine(hw)))
with st.expander("Technical details"):
    st.markdown(f"- **CPU:** {hw.cpu} ({hw.arch}); PyTorch SIMD level: {hw.cpu_capability}\n"
                f"- **CPU features that decide int8 and bf16 speed:** {', '.join(hw.feature_labels) or 'none detected'}\n"
                f"- **PyTorch:** {hw.torch}, {hw.torch_build} build; int8 engines: "
                f"{', '.join(hw.quantized_engines) or 'none'}\n"
                f"- **Memory allocator:** {hw.allocator or 'default'}")

st.subheader("Where the numbers come from")
st.markdown(
    "- **Measured** on this server: times, images per second, accuracy, file sizes and CPU time. FLOPs are "
    "counted by PyTorch's FLOP counter (`torch.utils.flop_counter`) as the model runs.\n"
    "- **Estimated** from a measurement and stated assumptions: energy, where the processor has no power counters "
    "the lab can read (CPU time × assumed watts, memory by CodeCarbon's model); CO₂e is energy × the grid's "
    "carbon intensity. Every energy figure says *measured* or *estimated* and shows its assumptions.\n"
    "- **Published**, with its source beside it: the grid's carbon intensity (CodeCarbon's bundled data), "
    "electricity prices and the everyday comparisons.")
st.caption("Heavy work takes turns, one job at a time, so no two measurements overlap. Each timing checks that it had "
           "the processor to itself and that the processor ran at its usual speed; one that was disturbed is measured "
           "again when the server is quieter, and if it stays disturbed it is shown labelled *(disturbed)* and never "
           "shared or compared on another page. When someone on this server already measured identical settings, you "
           "get their figures at once, labelled as such.")
