"""The accuracy guard's numbers (README, docs/inference-speed.md): per model and backend, the share of the 204
coco/dev.json persons' keypoints within 1 and 2 input pixels of torch fp32 (crops of the ground-truth boxes, flip
test, DARK decoding; also of the keypoints labelled in dev.json alone), and the COCO AP of each, the measurement
`tests/test_backends` asserts on.

    python scripts/accuracy_guard.py OUT.json                # torch fp32, OpenVINO auto, fp32, bf16 and int8
    python scripts/accuracy_guard.py OUT.json auto,int8      # torch fp32 and the OpenVINO precisions named
    python scripts/accuracy_guard.py OUT.json int8 hrgcnet-w32   # ... of one model
"""
import numpy as np, json, sys
from pathlib import Path
from hrgcnet.evaluation.coco import load_coco_gt, evaluate_coco, predict_labelled_crops
from hrgcnet.pipeline import PoseEstimator
shared = Path("../shared/data")
coco = load_coco_gt(shared / "coco" / "dev.json")
res = {}
PRECISIONS = sys.argv[2].split(",") if len(sys.argv) > 2 else ["auto", "fp32", "bf16", "int8"]
for model in sys.argv[3].split(",") if len(sys.argv) > 3 else ("hrnet-w32", "hrgcnet-w32"):
    out = {}
    for backend, precision in [("torch", "fp32")] + [("openvino", p) for p in PRECISIONS]:
        est = PoseEstimator(model, backend=backend, precision=precision, detector="full")
        in_crop, results, persons = predict_labelled_crops(est, coco, shared / "coco" / "images")
        out[f"{backend} {precision}"] = (in_crop, evaluate_coco(results, coco)["AP"], repr(est.fast_network))
    ref = out["torch fp32"][0]
    labelled = np.array([np.reshape(a["keypoints"], (-1, 3))[:, 2] > 0 for a in persons])
    for k, (kp, ap, net) in out.items():
        d = np.linalg.norm(kp[..., :2] - ref[..., :2], axis=-1)
        res[f"{model} {k}"] = {"within_1px": round(float((d <= 1).mean()), 4), "within_2px": round(float((d <= 2).mean()), 4),
                              "labelled_within_1px": round(float((d[labelled] <= 1).mean()), 4),
                              "AP": round(ap, 4), "network": net}
        print(model, k, res[f"{model} {k}"], flush=True)
json.dump(res, open(sys.argv[1], "w"), indent=1)
