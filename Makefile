# Everything a fresh machine needs is python3 and make: targets create/reuse .venv.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= ../shared
DATA := data
RECORDS := $(DATA)/tfrecords
SYNTH_TRAIN ?= 2000
SYNTH_VAL ?= 100
SYNTH_SIZE ?= 256
COCO_DIR ?=

.PHONY: install test tfrecords demo clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# --durations: the slowest tests' times in every run (the overfit test's budget is tracked by it)
test: install
	$(PY) -m pytest -q --durations=8 tests

# Bundled samples + synthetic train/val -> data/tfrecords/. With COCO_DIR: COCO 2017 train/val instead.
ifeq ($(COCO_DIR),)
tfrecords: install
	$(PY) -m data_prep.synth --output=$(DATA)/synth_train --num_images=$(SYNTH_TRAIN) --seed=1 --size=$(SYNTH_SIZE)
	$(PY) -m data_prep.synth --output=$(DATA)/synth_val --num_images=$(SYNTH_VAL) --seed=2 --size=$(SYNTH_SIZE)
	$(PY) -m data_prep.coco_to_tfrecord --annotations=$(DATA)/synth_train/person_keypoints.json \
	  --images=$(DATA)/synth_train/images --output=$(RECORDS)/synth_train --num_shards=4
	$(PY) -m data_prep.coco_to_tfrecord --annotations=$(DATA)/synth_val/person_keypoints.json \
	  --images=$(DATA)/synth_val/images --output=$(RECORDS)/synth_val --num_shards=1
	$(PY) -m data_prep.coco_to_tfrecord --annotations=$(SHARED)/data/coco_sample/person_keypoints.json \
	  --images=$(SHARED)/data/coco_sample/images --output=$(RECORDS)/coco_sample --num_shards=2
	$(PY) -m data_prep.coco_to_tfrecord --annotations=$(SHARED)/data/ochuman_sample/annotations.json \
	  --images=$(SHARED)/data/ochuman_sample/images --output=$(RECORDS)/ochuman_sample --num_shards=1
else
tfrecords: install
	$(PY) -m data_prep.coco_to_tfrecord --annotations=$(COCO_DIR)/annotations/person_keypoints_train2017.json \
	  --images=$(COCO_DIR)/train2017 --output=$(RECORDS)/coco_train2017 --num_shards=64 --skip_empty
	$(PY) -m data_prep.coco_to_tfrecord --annotations=$(COCO_DIR)/annotations/person_keypoints_val2017.json \
	  --images=$(COCO_DIR)/val2017 --output=$(RECORDS)/coco_val2017 --num_shards=8
endif

DEMO := runs/demo
KEPT := models/synthetic_tiny
# the demo's training time: as many of tiny.flags' steps (at most its own 6000) as this many minutes of
# this CPU train, so the whole demo takes about 25 minutes on any CPU (docs/RESULTS.md, "The demo's time")
DEMO_MINUTES ?= 14
# empty: as many as DEMO_MINUTES train; `make demo DEMO_STEPS=300` is the quick demo (experiments/readme_walkthrough.py)
DEMO_STEPS ?=
# how both models decode in the demo: with flip testing (their training flips; docs/RESULTS.md, "PGO sigmas
# and flip testing on trained models"); `make demo DEMO_DECODE=` decodes as the paper does
DEMO_DECODE ?= --flip_test

# The main job on bundled data, no downloads: synthetic people -> train tiny -> COCOeval -> export -> predict;
# then the same with the model kept in the repository.
demo: tfrecords
	$(PY) -m cf_tf.train --flagfile=experiments/tiny.flags --model_dir=$(DEMO)/model --train_minutes=$(DEMO_MINUTES) \
	  $(if $(DEMO_STEPS),--train_steps=$(DEMO_STEPS))
	$(PY) -m cf_tf.evaluate --model_dir=$(DEMO)/model --annotations=$(DATA)/synth_val/person_keypoints.json \
	  --images=$(DATA)/synth_val/images --output_dir=$(DEMO)/eval $(DEMO_DECODE) | tee $(DEMO)/eval.txt
	$(PY) -m cf_tf.evaluate --model_dir=$(DEMO)/model --head_report --annotations=$(DATA)/synth_val/person_keypoints.json \
	  --images=$(DATA)/synth_val/images --output_dir=$(DEMO)/eval | tee $(DEMO)/head_report.txt
	$(PY) -m cf_tf.export --model_dir=$(DEMO)/model --output=$(DEMO)/saved_model --overwrite $(DEMO_DECODE)
	$(PY) -m cf_tf.predict --saved_model=$(DEMO)/saved_model --image=$(DATA)/synth_val/images \
	  --output_dir=$(DEMO)/predict_synth_val
	$(PY) -m cf_tf.predict --saved_model=$(DEMO)/saved_model --image=$(SHARED)/data/coco_sample/images \
	  --output_dir=$(DEMO)/predict_coco_sample
	$(PY) -m cf_tf.show --records='$(RECORDS)/synth_train-*' --output_dir=$(DEMO)/targets --num_examples=4 \
	  --model_dir=$(DEMO)/model
	$(PY) -m cf_tf.export --model_dir=$(KEPT) --output=$(DEMO)/kept_model/saved_model --overwrite $(DEMO_DECODE)
	$(PY) -m cf_tf.evaluate --saved_model=$(DEMO)/kept_model/saved_model --annotations=$(DATA)/synth_val/person_keypoints.json \
	  --images=$(DATA)/synth_val/images --output_dir=$(DEMO)/kept_model/eval | tee $(DEMO)/kept_model/eval.txt
	$(PY) -m cf_tf.predict --saved_model=$(DEMO)/kept_model/saved_model --image=$(DATA)/synth_val/images \
	  --output_dir=$(DEMO)/kept_model/predict_synth_val
	@echo "demo done. The model trained here, $(DEMO)/model: COCOeval on the synthetic val set $(DEMO)/eval.txt,"
	@echo "  each head vs its target $(DEMO)/head_report.txt, pictures $(DEMO)/predict_synth_val/*.png,"
	@echo "  $(DEMO)/predict_coco_sample/*.png, its training targets $(DEMO)/targets/."
	@echo "The model kept in the repository, $(KEPT) (trained longer, on synthetic people only):"
	@echo "  COCOeval $(DEMO)/kept_model/eval.txt, pictures $(DEMO)/kept_model/predict_synth_val/*.png"

clean:
	rm -rf $(DATA) runs
