# Train & Infer Lab as one container: CPU-only PyTorch, the package installed (not the checkout),
# run as a non-root user. Build and run:
#   docker build -t train-infer-lab .
#   docker run --rm -p 8501:8501 train-infer-lab      # then open http://localhost:8501
# Server settings go in as TRAIN_INFER_LAB_* variables (docker run -e ...); a bad value stops it.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# First PyTorch's CPU-only wheels, exactly as requirements.txt gives them to Community Cloud (the
# CUDA build costs ~650 MB more RAM and GBs of image). Its last line, `.`, is the package itself,
# installed in the next step: this heavy layer then stays cached while the code changes.
WORKDIR /src
COPY requirements.txt .
RUN sed '/^\.$/d' requirements.txt > /tmp/requirements-torch.txt \
    && pip install -r /tmp/requirements-torch.txt \
    && rm /tmp/requirements-torch.txt

# The package, non-editable: it carries its bundled digits and lessons, so the source can go.
COPY . .
RUN pip install . \
    && cd / && rm -rf /src

RUN useradd --create-home --uid 10001 lab
USER lab
WORKDIR /home/lab

EXPOSE 8501
# The slim image has no curl: Python asks Streamlit's own health endpoint.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4); raise SystemExit(r.read().strip() != b'ok')"]
CMD ["train-infer-lab", "app", "--server.port", "8501", "--server.address", "0.0.0.0"]
