"""The engine: everything the lab computes, free of Streamlit, used alike by the app, the command line
(`python -m dashboard.lab`) and the benchmarks. It never imports dashboard.service, dashboard.ui or
dashboard.course (tests/unit/test_engine_is_ui_free.py and test_layers.py check both).

Its rooms, in the order they build on each other (a room imports only rooms above it in this list):

    settings, serial, hardware,   common ground: the server's caps, dataclasses <-> JSON, what this
    fmt, claims, progress         machine is, numbers with units, words that compare, the CLI's bar
    inputs/       datasets and uploaded images
    energy/       energy, CO2 and cost of a block of work (CodeCarbon), footprints and break-evens
    training/     the models, the training loop, what became of a run, a Variant (a model ready to serve)
    serving/      other runtimes (ONNX export, ONNX Runtime), a student's image prepared for a model
    compression/  pruning, int8 and low precision, distillation, per-layer sensitivity: the versions
    measure/      timing (bench, quiet windows), memory, FLOPs, peak, roofline, records of a run
    deploy/       files to take away, device profiles (edge), cloud vs edge, published figures
    pipeline      the one demo path (train -> compress -> measure -> RunRecord) and the demo's settings
    __main__      the command line
"""
