"""Split the credit-card default data into train and test CSV files (tutorial step 1)."""

import argparse
import os

import mlflow
import pandas as pd
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description="split credit data")
    parser.add_argument("--data", help="CSV with two header rows (the UCI layout)")
    parser.add_argument("--test_train_ratio", type=float, default=0.25)
    parser.add_argument("--train_data", help="folder for train/data.csv")
    parser.add_argument("--test_data", help="folder for test/data.csv")
    args = parser.parse_args()

    mlflow.start_run()
    frame = pd.read_csv(args.data, header=1, index_col=0)
    mlflow.log_metric("num_samples", frame.shape[0])
    mlflow.log_metric("num_features", frame.shape[1] - 1)

    train, test = train_test_split(frame, test_size=args.test_train_ratio, random_state=42)
    train.to_csv(os.path.join(args.train_data, "data.csv"), index=False)
    test.to_csv(os.path.join(args.test_data, "data.csv"), index=False)
    print(f"train rows: {len(train)}, test rows: {len(test)}")
    mlflow.end_run()


if __name__ == "__main__":
    main()
