_base_ = './_base_/rtmdet_base.py'
# SSCMA RTMDet-nano: a small detector for MCUs and phones (neck 64 channels).
deepen_factor = 0.33
widen_factor = 0.25
imgsz = (320, 320)
# Files for Seeed's SSCMA-Micro firmware (Grove Vision AI V2, XIAO ESP32-S3): stretch resize, RGB, pixel - 128,
# its output layout and decode. target='generic' for letterbox / mmdetection's decode.
target = 'sscma-micro'
# The firmware feeds pixel - 128: with a mean of 128 the export folds (pixel - 128) / std into the first
# convolution exactly, so the device graph starts with it (no elementwise op at input resolution). Starts
# trained on another mean are re-expressed for this one when loaded (engine/loading.adapt_preprocess).
preprocess = dict(color='bgr', mean=[128.0, 128.0, 128.0], std=[57.375, 57.12, 58.395])
# lr: the base recipe's 0.004 at 256 images per step, sqrt rule -> 1.4e-3 at batch 32. SSCMA's nano used
# 5e-4 at 32 (the linear rule); on the learning benchmark the sqrt rule learned faster (README).
warmup_iters = 2000
mosaic_cache = 20
mixup_cache = 10
mixup_prob = 0.5
# Starts from the toolkit's own pretrained weights (tools/pretrain.py on the generated glyph set, then the
# broad set; see pretrained/README.md). load_from=None trains from random weights.
load_from = 'pretrained/rtmdet_nano_silu_broad.pth'
