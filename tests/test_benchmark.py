"""The benchmark runs every row (quick mode); no speed is asserted here, only that each row measures
what it names."""

import json
import os
import subprocess
import sys

from cf_tf import benchmark, device_check
from conftest import REPO

STAGES = {"preprocess", "network", "decoder: voting + PGO", "decoder: peaks + grouping + OKS-NMS",
          "decoder: MaskCentroid assignment", "decoder: mask resampling", "whole SavedModel call (end to end)"}


def test_quick_benchmark_fills_every_row():
    lines = []
    r = benchmark.run(quick=True, people=(1, 5, 10), log=lines.append)
    assert r["tf"] and r["device"] and r["threads"] >= 1
    assert r["input_images_per_s"] > 0
    assert r["train_step_ms"]["resnet_tiny"] > 0
    assert set(r["worker_input"]) == {"1 of 1", "1 of 2"}
    assert all(w["examples_per_s"] > 0 and w["cpu_ms_per_example"] > 0 for w in r["worker_input"].values())
    assert set(r["forward_ms"]) == {"resnet_tiny"} and r["forward_ms"]["resnet_tiny"] > 0
    assert set(r["decoder_ms"]) == {"1", "5", "10"} and all(v > 0 for v in r["decoder_ms"].values())
    stages = r["stages_ms"]
    assert set(stages) == STAGES and all(v > 0 for v in stages.values())
    # no order between timings is asserted (the whole call against the network alone, loading against
    # a steady call): beside other jobs one stage's median of 2 took 336 ms against the whole call's 56
    assert r["end_to_end_ms"] == {"resnet_tiny": stages["whole SavedModel call (end to end)"]}
    assert r["end_to_end_load_ms"]["resnet_tiny"] > 0
    assert r["end_to_end_first_call_ms"]["resnet_tiny"] > 0 and r["end_to_end_plain_first_call_ms"]["resnet_tiny"] > 0
    table = next(line for line in lines if line.startswith("stages of resnet_tiny"))
    assert all(name in table for name in STAGES)


def test_device_check_script_writes_every_gpu_figure_in_quick_mode(tmp_path):
    """experiments/device_check.sh --quick on this CPU: the same rows the GPU run fills (train steps/s
    per backbone, batch and precision; input images/s; SavedModel ms per image per canvas and batch,
    first and steady), so the script is ready when a GPU is at hand."""
    out = tmp_path / "check" / "device.json"
    proc = subprocess.run(["bash", "experiments/device_check.sh", str(out), "--quick"], cwd=REPO, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PY": sys.executable})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["quick"] and r["cpu_cores"] >= 1 and r["input_images_per_s"] > 0
    assert set(r["train_steps_per_s"]) == {f"resnet_tiny batch 2 {p}" for p in device_check.PRECISIONS}
    assert all(v > 0 for v in r["train_steps_per_s"].values())
    per_image = r["end_to_end_ms_per_image"]
    assert set(per_image) == {"resnet_tiny 129 batch 1", "resnet_tiny 129 batch 2"}
    assert all(v["steady"] > 0 and v["first"] > 0 for v in per_image.values()), per_image
    assert device_check.plan(quick=False)[:2] == (("resnet50", "resnet101"), (4, 16))
