_base_ = './rtmdet_nano_8xb32_300e_coco.py'
# MobileNetV4-Conv-Small backbone (random init) feeding the nano neck and head.
act = 'relu'
model = dict(backbone=dict(_delete_=True, type='MobileNetV4ConvSmall', act='relu'))
load_from = None  # the shipped pretrained weights are for the CSPNeXt nano only
