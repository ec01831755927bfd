_base_ = './_base_/rtmdet_base.py'
# RTMDet-tiny: 4,896,168 params, 8.09 GFLOPs at 640.
deepen_factor = 0.167
widen_factor = 0.375
