_base_ = './_base_/rtmdet_base.py'
# RTMDet-m: 24.71 M params, 39.27 GFLOPs at 640.
deepen_factor = 0.67
widen_factor = 0.75
exp_on_reg = True
mixup_prob = 1.0
resize_ratio_range = (0.1, 2.0)
