_base_ = './_base_/rtmdet_base.py'
# RTMDet-x: 94.86 M params, 141.67 GFLOPs at 640.
deepen_factor = 1.33
widen_factor = 1.25
exp_on_reg = True
mixup_prob = 1.0
resize_ratio_range = (0.1, 2.0)
