#!/usr/bin/env python3
"""Reference timings for the ONNX stage models with onnxruntime from Python, to compare with
`cargo bench -p parley-models --bench vad --bench turn` on the same machine in the same time window.

    python3 -m venv /tmp/ortref && /tmp/ortref/bin/pip install onnxruntime numpy
    /tmp/ortref/bin/python scripts/reference/onnx_stages.py [MODEL_STORE]

Silero: one 512-sample chunk (+64 context) per call, 1 stream and 16 streams batched. Smart Turn: one
[1, 80, 800] call and a batch of 4 (model time only; features are timed separately in our bench).
"""
import os
import sys
import time

import numpy as np
import onnxruntime as ort

store = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/parley/models")


def session(path, threads=1):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts)


def timeit(fn, n):
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


rng = np.random.default_rng(0)
vad = session(os.path.join(store, "silero-vad/silero_vad.onnx"))
for batch in (1, 16):
    x = (rng.standard_normal((batch, 576)) * 0.1).astype(np.float32)
    state = np.zeros((2, batch, 128), dtype=np.float32)
    sr = np.array(16000, dtype=np.int64)
    t = timeit(lambda: vad.run(None, {"input": x, "state": state, "sr": sr}), 300)
    print(f"silero  batch {batch:2d}: {t * 1e6:8.1f} us per call, {t * 1e6 / batch:7.1f} us per stream-chunk")

turn = session(os.path.join(store, "smart-turn/smart-turn-v3.2-cpu.onnx"))
for batch in (1, 4):
    feats = rng.standard_normal((batch, 80, 800)).astype(np.float32) * 0.5
    t = timeit(lambda: turn.run(None, {"input_features": feats}), 10)
    print(f"smart-turn batch {batch}: {t * 1e3:8.1f} ms per call, {t * 1e3 / batch:6.1f} ms per decision")
