"""The Synapse lab's data preparation, as a Spark job: the lake tables the lab works on.

Reads the daily bike-rentals CSV (header, inferred schema), keeps the lab's 11 columns and
saves them as the lake table ``bike_data`` -- the lab's own cell, unchanged. Then it makes
``weather_forecast``: ten days after the data ends (2013-01-01 to 2013-01-10), whose
"forecast" is the weather observed on the same days a year earlier, with the calendar columns
(weekday, holiday, working day) recomputed for the new dates.
"""

import argparse
import datetime as dt

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

parser = argparse.ArgumentParser()
parser.add_argument("--raw", required=True, help="the daily bike rentals CSV")
args = parser.parse_args()

spark = SparkSession.builder.getOrCreate()

df = spark.read.load(args.raw, format="csv", header=True, inferSchema=True)

# The lab's cell, as written in Synapse.
bike_df = df.select("season",
                    "mnth",
                    "holiday",
                    "weekday",
                    "workingday",
                    "weathersit",
                    "temp",
                    "atemp",
                    "hum",
                    "windspeed",
                    "rentals")
bike_df.write.mode("overwrite").saveAsTable("bike_data")

# Ten future days of weather, for the lab's PREDICT step.
FIRST = dt.date(2013, 1, 1)
HOLIDAYS = {dt.date(2013, 1, 1)}  # New Year's Day (Martin Luther King Day is 2013-01-21)
days = spark.createDataFrame(
    [
        (
            FIRST + dt.timedelta(days=i),
            FIRST.replace(year=2012) + dt.timedelta(days=i),
            (FIRST + dt.timedelta(days=i)).strftime("%a"),
            "Yes" if FIRST + dt.timedelta(days=i) in HOLIDAYS else "No",
            "Yes" if (FIRST + dt.timedelta(days=i)).weekday() < 5
            and FIRST + dt.timedelta(days=i) not in HOLIDAYS else "No",
        )
        for i in range(10)
    ],
    "day date, observed date, weekday string, holiday string, workingday string",
)
observed = df.withColumn("observed", F.to_date("dteday"))
forecast = (
    days.join(observed.select("observed", "season", "mnth", "weathersit", "temp", "atemp",
                              "hum", "windspeed"), on="observed")
    .select("day", "season", "mnth", "holiday", "weekday", "workingday", "weathersit",
            "temp", "atemp", "hum", "windspeed")
    .orderBy("day")
)
forecast.write.mode("overwrite").saveAsTable("weather_forecast")
print(f"bike_data: {bike_df.count()} rows; weather_forecast: {forecast.count()} rows")
