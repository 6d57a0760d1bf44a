"""The nightly partitions: one per business date D (Asia/Seoul).

Partition D means "the night of D": ingest every ready batch dated on or before D (late and
out-of-order batches included), then publish as of D.
"""

import dagster as dg

PARTITION_START = "2020-01-01"
TIMEZONE = "Asia/Seoul"

#: Partitions reach a year past today (KST): the wall clock is not a hard dependency of the
#: dam (catch-up, test and replayed data may be dated ahead of it); the nightly schedule
#: itself only ever asks for yesterday.
DAYS_AHEAD = 366

daily = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, timezone=TIMEZONE, end_offset=DAYS_AHEAD
)
