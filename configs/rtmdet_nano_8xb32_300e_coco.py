_base_ = './_base_/rtmdet_base.py'
# SSCMA RTMDet-nano: a small detector for MCUs and phones (neck 64 channels).
deepen_factor = 0.33
widen_factor = 0.25
imgsz = (320, 320)
base_lr = 5e-4
warmup_iters = 2000
mosaic_cache = 20
mixup_cache = 10
mixup_prob = 0.5
