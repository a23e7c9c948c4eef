"""cf_tf: CenterFocus (bottom-up pose estimation + instance segmentation) in TensorFlow."""

from setuptools import find_packages, setup

setup(
    name="cf_tf",
    version="0.1.0",
    description="CenterFocus in TensorFlow: bottom-up multi-person keypoints and masks, decoding in the SavedModel",
    packages=find_packages(include=["cf_tf", "cf_tf.*", "data_prep"]),
    python_requires=">=3.10",
    # TensorFlow comes as tensorflow-cpu or tensorflow[and-cuda]; requirements.txt pins the CPU build,
    # so it is not forced here (a second TensorFlow distribution would shadow the first).
    install_requires=["pycocotools", "numpy", "scikit-learn", "opencv-python-headless", "absl-py"],
    extras_require={"cpu": ["tensorflow-cpu>=2.16"], "gpu": ["tensorflow[and-cuda]>=2.16"]},
)
