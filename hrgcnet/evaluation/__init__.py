"""Evaluation: COCO keypoint AP of models and result files (:mod:`.coco`), paired-bootstrap comparison of two
result files (:mod:`.compare`), and OKS-NMS with the official rescoring (:mod:`.nms`, also used at inference)."""
