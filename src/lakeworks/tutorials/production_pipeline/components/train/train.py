"""Train a gradient-boosting classifier on the credit data and register it (tutorial step 2)."""

import argparse
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import classification_report

TARGET = "default payment next month"


def first_csv(folder: str) -> pd.DataFrame:
    name = sorted(os.listdir(folder))[0]
    return pd.read_csv(os.path.join(folder, name))


def main() -> None:
    parser = argparse.ArgumentParser(description="train the credit default model")
    parser.add_argument("--train_data")
    parser.add_argument("--test_data")
    parser.add_argument("--n_estimators", type=int, default=100)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--registered_model_name")
    parser.add_argument("--model", help="output folder for the saved model")
    args = parser.parse_args()

    mlflow.start_run()
    mlflow.sklearn.autolog()

    train = first_csv(args.train_data)
    test = first_csv(args.test_data)
    y_train, y_test = train.pop(TARGET), test.pop(TARGET)
    print(f"training on {train.shape[0]} rows, {train.shape[1]} features")

    model = GradientBoostingClassifier(
        n_estimators=args.n_estimators, learning_rate=args.learning_rate, random_state=0
    )
    model.fit(train.values, y_train.values)
    predicted = model.predict(test.values)
    print(classification_report(y_test.values, predicted))
    mlflow.log_metric("test_accuracy", float((predicted == y_test.values).mean()))

    # cloudpickle, as the tutorial's MLmodel records (newer MLflow defaults to skops, which
    # refuses to load tree models unless their types are trusted explicitly).
    fmt = mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE
    mlflow.sklearn.log_model(
        sk_model=model,
        artifact_path="model",
        registered_model_name=args.registered_model_name,
        serialization_format=fmt,
    )
    mlflow.sklearn.save_model(
        sk_model=model, path=os.path.join(args.model, "trained_model"), serialization_format=fmt
    )
    mlflow.end_run()


if __name__ == "__main__":
    main()
