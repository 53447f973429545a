#!/usr/bin/python3
"""Independent numpy reference for tests/coder/test_coder_e2e.cpp (CoderRealData).

Computes top-1 counts of nearest class mean, Tip-Adapter (alpha 1, beta 5.5) and CODER-Adapter
(alpha 1, beta 30, every vocab text as neighbour) on the real CLIP ViT-B/32 .npy files, with no
search: all train rows are the cache, zero-shot term = 100 x cos to the normalized class means.
Written from the papers' formulas (Tip-Adapter, Zhang et al., ECCV 2022; CODER, Yi et al.,
CVPR 2024, arXiv 2404.17753), not from the C++ code. Float64 throughout, so that its counts are
the exact ones the float32 C++ results are compared with (float32 may flip a near-tie). Uses
numpy only (Debian's /usr/bin/python3 has it).

usage: coder_reference.py CLIP_VIT_B32_DIR DATASET [DATASET ...]
prints one line per dataset: "<dataset> <test rows> <ncm> <tip> <coder>"
"""
import sys

import numpy as np


def l2(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def bank(vocab):
    # As `vlb convert npy --text-bank` stores it: each file's rows normalized, then float16.
    parts = []
    for name in ("lvis_v1", "coco", "objects365"):
        b = np.load(f"{vocab}/{name}_text_features.npy").astype(np.float64)
        parts.append(l2(b).astype(np.float16).astype(np.float64))
    return l2(np.concatenate(parts))


def counts(root, dataset, texts):
    load = lambda f: np.load(f"{root}/{dataset}/{f}.npy")
    xtr = l2(load("train_features").astype(np.float64))
    xte = l2(load("test_features").astype(np.float64))
    ytr, yte = load("train_labels"), load("test_labels")
    classes = int(max(ytr.max(), yte.max())) + 1
    values = np.eye(classes, dtype=np.float64)[ytr]  # one-hot train labels

    base = 100.0 * xte @ l2(values.T @ xtr).T
    tip = base + np.exp(-5.5 * (1.0 - xte @ xtr.T)) @ values

    # CODER: an image is represented by its similarities to every text, normalized; the affinity
    # of two images is the cosine of those representations, min-max scaled per test row.
    a = l2(xte @ texts.T) @ l2(xtr @ texts.T).T
    lo, hi = a.min(axis=1, keepdims=True), a.max(axis=1, keepdims=True)
    a = (a - lo) / np.maximum(hi - lo, 1e-12)
    coder = base + np.exp(-30.0 * (1.0 - a)) @ values

    hits = lambda logits: int((logits.argmax(axis=1) == yte).sum())
    return len(yte), hits(base), hits(tip), hits(coder)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    root = sys.argv[1]
    texts = bank(root + "/vocab")
    for dataset in sys.argv[2:]:
        print(dataset, *counts(root, dataset, texts))


if __name__ == "__main__":
    main()
