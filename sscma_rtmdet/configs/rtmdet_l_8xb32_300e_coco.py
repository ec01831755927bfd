_base_ = './_base_/rtmdet_base.py'
# RTMDet-l: 52.3 M params, 80.23 GFLOPs at 640.
deepen_factor = 1.0
widen_factor = 1.0
exp_on_reg = True
mixup_prob = 1.0
resize_ratio_range = (0.1, 2.0)
