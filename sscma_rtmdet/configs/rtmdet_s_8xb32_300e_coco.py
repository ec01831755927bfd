_base_ = './_base_/rtmdet_base.py'
# RTMDet-s: 8,886,924 params, 14.8 GFLOPs at 640.
deepen_factor = 0.33
widen_factor = 0.5
mixup_prob = 1.0
