"""The eager scikit-learn reference for mask clustering (--mask_clustering=dbscan).

DBSCAN (Ester et al. 1996; the paper's density-based clustering, Kriegel et al. 2011) over the
embeddings that no decoded person claims; each cluster's mean is a centroid. Tests use it to check
the graph-mode histogram clustering of cf_tf/postprocess/maskcentroid.py.
"""

import numpy as np
import tensorflow as tf
from sklearn.cluster import DBSCAN

from cf_tf.constants import CLUSTER_REFINE_BINS


def cluster_centroids(emb, free, cfg):
    """Same contract as maskcentroid.cluster_centroids, computed eagerly with DBSCAN."""
    pts = emb.numpy()[free.numpy()]
    centroids = np.zeros((cfg.max_people, 2), np.float32)
    valid = np.zeros(cfg.max_people, bool)
    if len(pts):
        labels = DBSCAN(eps=CLUSTER_REFINE_BINS * cfg.cluster_bin, min_samples=int(cfg.min_cluster_pixels)).fit_predict(pts)
        clusters = sorted((np.sum(labels == c), c) for c in set(labels) - {-1})[::-1][: cfg.max_people]
        for i, (_, c) in enumerate(clusters):
            centroids[i] = pts[labels == c].mean(0)
            valid[i] = True
    return tf.constant(centroids), tf.constant(valid)
