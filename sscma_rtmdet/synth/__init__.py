"""Generated datasets, written in Roboflow's COCO layout: the demo set, the learning benchmarks' sets and
the pretraining sets. Made by the toolkit from nothing but code and installed wheels (no download).

The real data pipeline (`sscma_rtmdet.data`) never imports this package; tools, benchmarks and tests do.
`writer.py` is the one writer all sets share (COCO header with a Roboflow placeholder category, JPEG bytes,
per-split summary, worker processes); each set module holds its class list and a
`render(seed, split_idx, index) -> writer.Sample`.
"""
