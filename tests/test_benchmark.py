"""The benchmark runs every row (quick mode); no speed is asserted here, only that each row measures
what it names."""

from cf_tf import benchmark

STAGES = {"preprocess", "network", "decoder: voting + PGO", "decoder: peaks + grouping + OKS-NMS",
          "decoder: MaskCentroid assignment", "decoder: mask resampling", "whole SavedModel call (end to end)"}


def test_quick_benchmark_fills_every_row():
    lines = []
    r = benchmark.run(quick=True, people=(1, 5, 10), log=lines.append)
    assert r["tf"] and r["device"] and r["threads"] >= 1
    assert r["input_images_per_s"] > 0
    assert r["train_step_ms"]["resnet_tiny"] > 0
    assert set(r["forward_ms"]) == {"resnet_tiny"} and r["forward_ms"]["resnet_tiny"] > 0
    assert set(r["decoder_ms"]) == {"1", "5", "10"} and all(v > 0 for v in r["decoder_ms"].values())
    stages = r["stages_ms"]
    assert set(stages) == STAGES and all(v > 0 for v in stages.values())
    # the whole call runs the network and the decoder, so it cannot be faster than the network alone
    assert stages["whole SavedModel call (end to end)"] > stages["network"]
    assert r["end_to_end_ms"] == {"resnet_tiny": stages["whole SavedModel call (end to end)"]}
    # load_saved_model's warm-up runs the model once, so loading takes longer than one steady call
    assert r["end_to_end_load_ms"]["resnet_tiny"] > r["end_to_end_ms"]["resnet_tiny"]
    assert r["end_to_end_first_call_ms"]["resnet_tiny"] > 0 and r["end_to_end_plain_first_call_ms"]["resnet_tiny"] > 0
    table = next(line for line in lines if line.startswith("stages of resnet_tiny"))
    assert all(name in table for name in STAGES)
