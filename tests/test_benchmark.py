"""The benchmark runs every row (quick mode); no speed is asserted here."""

from cf_tf import benchmark


def test_quick_benchmark_fills_every_row():
    r = benchmark.run(quick=True, people=(1, 5, 10), log=lambda m: None)
    assert r["tf"] and r["device"] and r["threads"] >= 1
    assert r["input_images_per_s"] > 0
    assert r["train_step_ms"]["resnet_tiny"] > 0
    assert r["forward_ms"] and all(v > 0 for v in r["forward_ms"].values())
    assert set(r["decoder_ms"]) == {"1", "5", "10"} and all(v > 0 for v in r["decoder_ms"].values())
    assert all(v > 0 for v in r["end_to_end_ms"].values())
