# RTMDet base config (mmdetection 3.3.0 recipe, tiny sizes). Every top-level name can be overridden with
# `--cfg-options name=value`; the override reaches every value below that is derived from it.
# Plain (non-dict) names set in a child config also flow into this file; dicts are deep-merged.

# ---- data -------------------------------------------------------------------------------------------
num_classes = 80  # the dataset's class count is used; a value given by option must agree with it
imgsz = (640, 640)  # (H, W), each a multiple of 32
data_root = 'data/coco/'
train_ann_file = 'annotations/instances_train2017.json'
train_img_prefix = 'train2017/'
val_ann_file = 'annotations/instances_val2017.json'
val_img_prefix = 'val2017/'
test_ann_file = val_ann_file
test_img_prefix = val_img_prefix

# One preprocessing definition shared by training, evaluation, export, calibration and inference; the
# deployment target (sscma_rtmdet/targets.py) adds how its runtime resizes (letterbox or stretch) and feeds it.
# Letterbox padding: `pad_value` (default data.preprocess.DEFAULT_PAD_VALUE, mmdetection's 114).
preprocess = dict(color='bgr', mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395])
target = 'generic'  # mmdetection's test pipeline; 'sscma-micro' for Seeed's firmware (the nano configs)

# ---- schedule ---------------------------------------------------------------------------------------
# The recipe: mmdetection's, for 8 GPUs x 32 images and 300 epochs of COCO. At the start of training
# engine/schedule.fit_config_schedule fits it to the run (lr to the real global batch, warmup to at most
# warmup_max_ratio of the iterations, stage 2 to at most stage2_max_ratio of the epochs, about val_count
# validations) and prints what it chose; a name given in --cfg-options is used exactly as given.
max_epochs = 300
recipe_epochs = 300  # the run length the recipe's epoch counts are for
stage2_num_epochs = 20
stage2_epoch = max(max_epochs - stage2_num_epochs, 0)  # first epoch of the plain (stage-2) pipeline
stage2_max_ratio = 0.4  # short runs: stage 2 is the last stage2_num_epochs epochs, at most this share of them
batch_size = 32  # per step, all GPUs together
val_batch_size = 8
num_workers = 2
base_lr = 0.004  # AdamW lr at lr_ref_batch images per step
lr_ref_batch = 256
lr_scaling = 'sqrt'  # how the lr follows batch_size: 'sqrt' (Adam), 'linear' or 'none'
weight_decay = 0.05
warmup_iters = 1000
warmup_max_ratio = 0.1
warmup_ratio = 1e-5
min_lr_ratio = 0.05
val_interval = 10
val_count = 10  # short runs validate every max_epochs // val_count epochs (stage 2 included)
save_interval = 10
max_keep_ckpts = 3
grad_clip = None  # e.g. 10.0 (max L2 norm)
log_interval = 20  # iterations between log lines
load_from = None  # pretrained weights: ours, an mmdet/mmyolo detector, or a backbone-only ImageNet .pth
mosaic_cache = 40
mixup_cache = 20
mixup_prob = 0.5
resize_ratio_range = (0.5, 2.0)

# ---- model ------------------------------------------------------------------------------------------
deepen_factor = 0.167
widen_factor = 0.375
act = 'silu'
neck_channels = int(256 * widen_factor)
neck_blocks = max(round(3 * deepen_factor), 1)
exp_on_reg = False
share_conv = True
channel_attention = True
split_pool = False

model = dict(
    backbone=dict(type='CSPNeXt', arch='P5', deepen_factor=deepen_factor, widen_factor=widen_factor,
                  expand_ratio=0.5, channel_attention=channel_attention, act=act, split_pool=split_pool),
    neck=dict(type='CSPNeXtPAFPN', out_channels=neck_channels, num_csp_blocks=neck_blocks,
              expand_ratio=0.5, act=act),
    head=dict(type='RTMDetSepBNHead', num_classes=num_classes, feat_channels=neck_channels,
              stacked_convs=2, share_conv=share_conv, exp_on_reg=exp_on_reg, act=act, strides=(8, 16, 32)),
)
criterion = dict(
    assigner=dict(topk=13, iou_weight=3.0, soft_center_radius=3.0),
    loss_cls_weight=1.0, loss_bbox_weight=2.0, qfl_beta=2.0)
# mmdetection's decode; the target's replaces what it sets (sscma-micro: multi_label=False, nms='sscma',
# iou 0.45, no cap), a test_cfg.* option replaces both
test_cfg = dict(score_thr=0.001, nms_pre=30000, iou_threshold=0.65, max_per_img=300, multi_label=True, nms='exact')

# ---- pipelines --------------------------------------------------------------------------------------
# Padding transforms take preprocess.pad_value unless they set pad_val.
train_pipeline = [
    dict(type='CachedMosaic', img_scale=imgsz, max_cached_images=mosaic_cache),
    dict(type='RandomResize', scale=(imgsz[0] * 2, imgsz[1] * 2), ratio_range=resize_ratio_range),
    dict(type='RandomCrop', crop_size=imgsz),
    dict(type='YOLOXHSVRandomAug', hue_delta=5, saturation_delta=30, value_delta=30),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=imgsz),
    dict(type='CachedMixUp', img_scale=imgsz, ratio_range=(1.0, 1.0), max_cached_images=mixup_cache,
         prob=mixup_prob),
]
train_pipeline_stage2 = [
    dict(type='RandomResize', scale=imgsz, ratio_range=resize_ratio_range),
    dict(type='RandomCrop', crop_size=imgsz),
    dict(type='YOLOXHSVRandomAug', hue_delta=5, saturation_delta=30, value_delta=30),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=imgsz),
]
# Evaluation prepares images with `preprocess` and the target (letterbox or stretch to imgsz); no pipeline.

# ---- optimisation -----------------------------------------------------------------------------------
# lr and weight decay come from base_lr (fitted to the run) and weight_decay above; the backbone's lr is
# backbone_lr_mult times it (mmdet's paramwise_cfg custom_keys; 1.0 there and here).
optimizer = dict(type='AdamW', betas=(0.9, 0.999), norm_decay=False, bias_decay=False, backbone_lr_mult=1.0)
ema = dict(momentum=0.0002, gamma=2000)
patience = None  # early stopping: stop after this many validations without a new best AP (None: never)

# ---- speed ------------------------------------------------------------------------------------------
# How a training step runs, not what it learns (engine/speed.py; measured in docs/design.md and by
# benchmarks/train_speed.py). Each setting keeps resume bit-exact; results differ only by float rounding.
# forward autocast: 'auto' = float16 on CUDA, bfloat16 on a CPU with AMX/AVX512-BF16, else 'float32'
precision = 'auto'
channels_last = True  # NHWC activations and weights while training: oneDNN's (CPU) and cuDNN's fast layout
compile_model = False  # torch.compile (inductor): ~1 min compiling per batch shape, a net loss on short CPU runs
train_threads = None  # torch intra-op threads while training (None: torch's default, one per core)
optimizer_impl = 'fused'  # AdamW kernel: 'fused' (one kernel over all tensors), 'foreach' or 'for-loop'
image_cache_mb = 1024  # decoded (and stretched) training images kept in memory, shared with the workers; 0: off
pin_memory = 'auto'  # page-locked batches for fast copies to a GPU ('auto': on with CUDA)
