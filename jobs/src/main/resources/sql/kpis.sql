-- The business KPIs of the assistant, per hour of event time and per feature, from the user-events topic to the
-- compacted kpis topic (one Kpi per hour and feature survives compaction: the latest). Run by dev.flinkai.jobs.KpiJob,
-- which fills in the settings (the dollar-brace variables); the session time zone is UTC, so hours are
-- epoch-aligned.

CREATE TEMPORARY FUNCTION PERCENTILES AS 'dev.flinkai.udfs.functions.Percentiles';

CREATE TEMPORARY TABLE user_events (
  userId STRING,
  eventType STRING,
  eventTimeMillis BIGINT,
  feature STRING,
  latencyMillis INT,
  success BOOLEAN,
  rating INT,
  event_time AS TO_TIMESTAMP_LTZ(eventTimeMillis, 3),
  WATERMARK FOR event_time AS event_time - ${watermark.out-of-orderness}
) WITH (
  'connector' = 'kafka',
  'topic' = '${topic.events}',
  ${kafka.properties},
  'properties.group.id' = '${kafka.group-id}',
  'properties.auto.offset.reset' = 'earliest',
  -- The generator writes in transactions: an aborted attempt's events are not events.
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  ${scan.bounded}
  'format' = 'flinkai-avro',
  'flinkai-avro.record' = 'UserEvent',
  'flinkai-avro.ignore-parse-errors' = 'true'
);

-- Keyed by KpiKey (window start, feature), upserted: each update of a Kpi replaces the previous on compaction.
CREATE TEMPORARY TABLE kpis (
  windowStartMillis BIGINT,
  windowEndMillis BIGINT,
  feature STRING,
  events BIGINT,
  sessions BIGINT,
  activeUsers BIGINT,
  featureUsers BIGINT,
  adoption DOUBLE,
  taskOutcomes BIGINT,
  taskSuccesses BIGINT,
  taskCompletionRate DOUBLE,
  ratings BIGINT,
  satisfaction DOUBLE,
  latencyP50Millis DOUBLE,
  latencyP95Millis DOUBLE,
  latencyP99Millis DOUBLE,
  PRIMARY KEY (windowStartMillis, feature) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${topic.kpis}',
  ${kafka.properties},
  'key.format' = 'flinkai-avro',
  'key.flinkai-avro.record' = 'KpiKey',
  'value.format' = 'flinkai-avro',
  'value.flinkai-avro.record' = 'Kpi',
  'sink.buffer-flush.max-rows' = '1000',
  'sink.buffer-flush.interval' = '1 s'
);

-- Per window and feature: volumes, outcomes, ratings, latencies.
CREATE TEMPORARY VIEW feature_windows AS
SELECT
  window_start,
  window_end,
  feature,
  COUNT(*) AS events,
  COUNT(DISTINCT userId) AS featureUsers,
  COUNT(CASE WHEN eventType = 'TASK_OUTCOME' THEN 1 END) AS taskOutcomes,
  COUNT(CASE WHEN eventType = 'TASK_OUTCOME' AND success THEN 1 END) AS taskSuccesses,
  COUNT(CASE WHEN eventType = 'FEEDBACK' THEN rating END) AS ratings,
  AVG(CASE WHEN eventType = 'FEEDBACK' THEN CAST(rating AS DOUBLE) END) AS satisfaction,
  PERCENTILES(CASE WHEN latencyMillis > 0 THEN latencyMillis END) AS latency,
  MIN(eventTimeMillis) - MOD(MIN(eventTimeMillis), ${window.size.millis}) AS windowStartMillis
FROM TABLE(TUMBLE(TABLE user_events, DESCRIPTOR(event_time), ${window.size}))
WHERE feature IS NOT NULL
GROUP BY window_start, window_end, feature;

-- Per window: every user with any event.
CREATE TEMPORARY VIEW active_windows AS
SELECT window_start, window_end, COUNT(DISTINCT userId) AS activeUsers
FROM TABLE(TUMBLE(TABLE user_events, DESCRIPTOR(event_time), ${window.size}))
GROUP BY window_start, window_end;

-- A user's visits to a feature: session windows over their events on it, counted in the window they start in.
CREATE TEMPORARY VIEW feature_visits AS
SELECT userId || '/' || feature AS visit, feature, eventTimeMillis, event_time
FROM user_events
WHERE feature IS NOT NULL;

CREATE TEMPORARY VIEW feature_sessions AS
SELECT
  MAX(feature) AS feature,
  MIN(eventTimeMillis) - MOD(MIN(eventTimeMillis), ${window.size.millis}) AS windowStartMillis
FROM TABLE(SESSION(TABLE feature_visits PARTITION BY visit, DESCRIPTOR(event_time), ${session.gap}))
GROUP BY window_start, window_end, visit;

-- Both streams are append-only; the sum per key updates as sessions close, and the upsert sink keeps the latest.
-- HAVING: a window's sessions may close before the window does; its Kpi is written once the window is in.
INSERT INTO kpis
SELECT
  windowStartMillis,
  windowStartMillis + ${window.size.millis} AS windowEndMillis,
  feature,
  SUM(events) AS events,
  SUM(sessions) AS sessions,
  MAX(activeUsers) AS activeUsers,
  MAX(featureUsers) AS featureUsers,
  CAST(MAX(featureUsers) AS DOUBLE) / MAX(activeUsers) AS adoption,
  SUM(taskOutcomes) AS taskOutcomes,
  SUM(taskSuccesses) AS taskSuccesses,
  CASE WHEN SUM(taskOutcomes) > 0 THEN CAST(SUM(taskSuccesses) AS DOUBLE) / SUM(taskOutcomes) END AS taskCompletionRate,
  SUM(ratings) AS ratings,
  MAX(satisfaction) AS satisfaction,
  MAX(p50) AS latencyP50Millis,
  MAX(p95) AS latencyP95Millis,
  MAX(p99) AS latencyP99Millis
FROM (
  SELECT f.windowStartMillis, f.feature, f.events, CAST(0 AS BIGINT) AS sessions, a.activeUsers, f.featureUsers,
         f.taskOutcomes, f.taskSuccesses, f.ratings, f.satisfaction,
         f.latency.p50 AS p50, f.latency.p95 AS p95, f.latency.p99 AS p99
  FROM feature_windows f
  JOIN active_windows a ON f.window_start = a.window_start AND f.window_end = a.window_end
  UNION ALL
  SELECT windowStartMillis, feature, CAST(0 AS BIGINT), CAST(1 AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
         CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(NULL AS DOUBLE),
         CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE)
  FROM feature_sessions
)
GROUP BY windowStartMillis, feature
HAVING MAX(activeUsers) IS NOT NULL;
