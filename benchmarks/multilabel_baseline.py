"""TF-IDF one-vs-rest for multi-label data, with the neural models' decision rule (`benchmarks/tfidf_baseline.py
--multi_label`): the same TF-IDF features as the single-label baseline (`benchmarks.harness.runs.TFIDF_SETTINGS`),
one LinearSVC (or logistic regression) per label, sigmoid(score) as the label's probability, per-label
thresholds tuned on validation to maximise F1 (`textrnn.models.multilabel.tune_thresholds`), and the
report's scikit-learn metrics on test (`textrnn.callbacks.multilabel_report.multilabel_summary`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness.runs import TFIDF_SETTINGS


def ovr_pipeline(classifier: str = "linearsvc", seed: int = 0) -> Any:
    """TF-IDF (1-2 grams, sublinear tf, min_df 2) into one binary classifier per label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    s = TFIDF_SETTINGS
    binary = (LinearSVC(C=s["C"], random_state=seed) if classifier == "linearsvc"
              else LogisticRegression(C=10.0, max_iter=1000, random_state=seed))
    return make_pipeline(
        TfidfVectorizer(ngram_range=tuple(s["ngram_range"]), sublinear_tf=s["sublinear_tf"], min_df=s["min_df"]),
        OneVsRestClassifier(binary),
    )


def probabilities(model: Any, texts: list[str]) -> np.ndarray:
    """Each label's probability (N, L): the sigmoid of its classifier's score (0.5 at the decision boundary)."""
    scores = np.asarray(model.decision_function(texts), dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-scores.reshape(len(texts), -1)))


def run_multilabel(data: Any, classifier: str = "linearsvc", tune: bool = True, seed: int = 0) -> dict[str, Any]:
    """Fit on ``data``'s train split, tune thresholds on validation, score on test (the report's dict)."""
    from textrnn.callbacks.multilabel_report import multilabel_summary
    from textrnn.models.multilabel import decide, tune_thresholds

    y_train = np.asarray(data.labels("train"))
    model = ovr_pipeline(classifier, seed).fit(data.texts("train"), y_train)
    thresholds = (tune_thresholds(probabilities(model, data.texts("validation")), np.asarray(data.labels("validation")))
                  if tune else [0.5] * data.num_classes)
    probs = probabilities(model, data.texts("test"))
    return multilabel_summary(np.asarray(data.labels("test")), decide(probs, thresholds), data.label_names, thresholds)
