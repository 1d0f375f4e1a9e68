-- Purpose: per assistant feature, what the main job predicted for its events in the last two minutes, beside the
-- feature's latest KPI window from the kpis topic.
SET 'sql-client.execution.result-mode' = 'tableau';
SET 'execution.runtime-mode' = 'batch';
CREATE TEMPORARY TABLE recent_events (eventId STRING, feature STRING)
WITH ('connector' = 'kafka', 'topic' = '${TOPIC_EVENTS}', 'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '${NOW_MINUS_120S}',
  'scan.bounded.mode' = 'latest-offset', 'format' = 'flinkai-avro', 'flinkai-avro.record' = 'UserEvent');
CREATE TEMPORARY TABLE recent_predictions (eventId STRING, label STRING, fallback BOOLEAN)
WITH ('connector' = 'kafka', 'topic' = '${TOPIC_PREDICTIONS}', 'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '${NOW_MINUS_120S}',
  'scan.bounded.mode' = 'latest-offset', 'format' = 'flinkai-avro', 'flinkai-avro.record' = 'Prediction');
-- The compacted topic read as a log: an update of a window replaces the one before it (the highest offset wins).
CREATE TEMPORARY TABLE kpi_log (
  windowStartMillis BIGINT, feature STRING, taskCompletionRate DOUBLE, adoption DOUBLE, satisfaction DOUBLE,
  `offset` BIGINT METADATA VIRTUAL
) WITH ('connector' = 'kafka', 'topic' = '${TOPIC_KPIS}', 'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
  'format' = 'flinkai-avro', 'flinkai-avro.record' = 'Kpi');
CREATE TEMPORARY VIEW latest_kpis AS
SELECT feature, windowStartMillis, taskCompletionRate, adoption, satisfaction FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY feature ORDER BY windowStartMillis DESC, `offset` DESC) AS n FROM kpi_log)
WHERE n = 1;
SELECT e.feature,
       COUNT(*) AS predictions,
       ROUND(AVG(CASE WHEN p.label = 'TASK_OUTCOME' THEN 1.0 ELSE 0.0 END), 3) AS predicted_task_outcome,
       ROUND(AVG(CASE WHEN p.fallback THEN 1.0 ELSE 0.0 END), 3) AS fallback_share,
       TO_TIMESTAMP_LTZ(MAX(k.windowStartMillis), 3) AS kpi_window,
       ROUND(MAX(k.taskCompletionRate), 4) AS completion_rate,
       ROUND(MAX(k.adoption), 3) AS adoption,
       ROUND(MAX(k.satisfaction), 2) AS satisfaction
FROM recent_predictions p
JOIN recent_events e ON p.eventId = e.eventId
LEFT JOIN latest_kpis k ON k.feature = e.feature
WHERE e.feature IS NOT NULL
GROUP BY e.feature
ORDER BY e.feature;
