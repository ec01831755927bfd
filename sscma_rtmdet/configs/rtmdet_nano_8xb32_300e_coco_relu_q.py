_base_ = './rtmdet_nano_8xb32_300e_coco_relu.py'
# QAT schedule for tools/quantization.py: fine-tune a trained model with int8 fake quantization.
# Low LR, no mosaic/mixup (the plain pipeline from the first epoch). QAT starts from the PTQ model
# (ptq_start: the int8 exporter's ranges on calib_images training images, the set tools/export.py uses),
# observers then average for observer_epochs and freeze; BN statistics frozen for the last part.
max_epochs = 10
stage2_num_epochs = max_epochs
stage2_max_ratio = 1.0  # the whole run in stage 2
base_lr = 2e-5
warmup_iters = 0
val_interval = 1
save_interval = 1
# calib_images None: tools/export.py's --calib-num default (the PTQ start calibrates on the same images)
qat = dict(observer_epochs=1, freeze_bn_epoch=max(max_epochs // 2, 1), calib_images=None, ptq_start=True)
