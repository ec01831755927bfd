_base_ = './_base_/rtmdet_base.py'
# SSCMA RTMDet-nano: a small detector for MCUs and phones (neck 64 channels).
deepen_factor = 0.33
widen_factor = 0.25
imgsz = (320, 320)
base_lr = 5e-4  # SSCMA's nano recipe: batch 32 on one GPU
lr_ref_batch = 32
warmup_iters = 2000
mosaic_cache = 20
mixup_cache = 10
mixup_prob = 0.5
# Starts from the toolkit's own pretrained weights (tools/pretrain.py on the generated glyph set; see
# pretrained/README.md). load_from=None trains from random weights.
load_from = 'pretrained/rtmdet_nano_silu_glyphs.pth'
