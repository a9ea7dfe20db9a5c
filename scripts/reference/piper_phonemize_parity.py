#!/usr/bin/env python3
"""Checks that parley's TTS phonemes equal piper-phonemize's (the library Piper voices were trained with).

Usage: python piper_phonemize_parity.py PATH/TO/parley   (needs: pip install piper-phonemize)
Runs `parley say --json` on sentences that need no normalisation and compares each chunk's phonemes with
piper_phonemize.phonemize_espeak on the chunk text. Exit status 1 on any mismatch.
"""
import json
import subprocess
import sys

from piper_phonemize import phonemize_espeak

sents = ["Hello world, how are you?", "The quick brown fox jumps over the lazy dog.", "Sure, I can help with that.",
 "Is it raining outside? I think so; take an umbrella: the forecast looks bad!", "My name is Joe, and I like reading books about history and science.",
 "She sells seashells by the seashore.", "Well, that's interesting!", "We'll see what happens next, won't we?"]
P = sys.argv[1]
bad = 0
for s in sents:
    out = subprocess.run([P, "say", s, "-o", "/tmp/p.wav", "--json", "--deterministic", "--log-level", "error"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        c = json.loads(line)
        ref = " ".join("".join(p) for p in phonemize_espeak(c["text"], "en-us"))
        ok = ref == c["phonemes"]
        bad += not ok
        print("OK " if ok else "DIFF", c["text"], "|", c["phonemes"], "|", ref if not ok else "")
print("mismatches:", bad)
sys.exit(1 if bad else 0)
