-- Purpose: the task completion rate of each assistant feature over the last two minutes of live events, against the
-- platform's target of 95 %.
SET 'sql-client.execution.result-mode' = 'tableau';
SET 'execution.runtime-mode' = 'batch';
CREATE TEMPORARY TABLE recent_events (
  eventId STRING, userId STRING, eventType STRING, feature STRING, success BOOLEAN
) WITH ('connector' = 'kafka', 'topic' = '${TOPIC_EVENTS}', 'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '${NOW_MINUS_120S}',
  'scan.bounded.mode' = 'latest-offset', 'format' = 'flinkai-avro', 'flinkai-avro.record' = 'UserEvent');
SELECT feature,
       COUNT(*) AS task_outcomes,
       ROUND(AVG(CASE WHEN success THEN 1.0 ELSE 0.0 END), 4) AS completion_rate,
       AVG(CASE WHEN success THEN 1.0 ELSE 0.0 END) >= 0.95 AS meets_target
FROM recent_events
WHERE eventType = 'TASK_OUTCOME' AND feature IS NOT NULL
GROUP BY feature
ORDER BY feature;
