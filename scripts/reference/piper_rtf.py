#!/usr/bin/env python3
"""Reference real-time factor of the Piper voice with onnxruntime from Python, on the exact phoneme ids that
parley's TTS produces (dumped by `PARLEY_TTS_IDS_OUT=ids.json cargo bench -p parley-models --bench tts`).

Usage: python piper_rtf.py ids.json MODEL.onnx   (needs: pip install onnxruntime numpy)
Synthesises the clauses one after another, like parley does, with 1 and 2 intra-op threads; prints the median
RTF (synthesis time / audio duration) of 5 runs after a warm-up.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    data = json.load(open(sys.argv[1]))
    model = sys.argv[2]
    scales = np.array(data["scales"], dtype=np.float32)
    rate = data["sample_rate"]
    for threads in (1, 2):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

        def run():
            samples = 0
            for ids in data["clauses"]:
                x = np.array([ids], dtype=np.int64)
                out = sess.run(None, {"input": x, "input_lengths": np.array([len(ids)], dtype=np.int64), "scales": scales})
                samples += out[0].size
            return samples

        run()
        rtfs = []
        for _ in range(5):
            t = time.perf_counter()
            n = run()
            rtfs.append((time.perf_counter() - t) / (n / rate))
        rtfs.sort()
        print(f"onnxruntime-python {ort.__version__} {threads} thread(s): {n / rate:.2f} s of audio, RTF {rtfs[2]:.4f}")


if __name__ == "__main__":
    main()
