-- Purpose: score the last 30 seconds of the live user-events topic with the model, from SQL: the user context and
-- features of the main job (USER_CONTEXT; here built from those 30 seconds only), ML_PREDICT micro-batched.
SET 'sql-client.execution.result-mode' = 'tableau';
CREATE TEMPORARY TABLE live_events (
  eventId STRING, userId STRING, sessionId STRING, eventType STRING, eventTimeMillis BIGINT, priority INT,
  feature STRING, latencyMillis INT, inputTokens INT, outputTokens INT, success BOOLEAN, rating INT
) WITH ('connector' = 'kafka', 'topic' = '${TOPIC_EVENTS}', 'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '${NOW_MINUS_30S}',
  'scan.bounded.mode' = 'latest-offset', 'format' = 'flinkai-avro', 'flinkai-avro.record' = 'UserEvent');
CREATE TEMPORARY FUNCTION USER_CONTEXT AS 'dev.flinkai.udfs.context.UserContextFunction';
CREATE TEMPORARY VIEW event_features AS
  SELECT eventId, features FROM USER_CONTEXT(input => TABLE live_events PARTITION BY userId, uid => 'user-context');
CREATE TEMPORARY MODEL next_event INPUT (features ARRAY<FLOAT>)
  OUTPUT (label STRING, probability FLOAT, model_version STRING, served_by STRING, fallback BOOLEAN)
  WITH ('provider' = 'flinkai', 'uri' = '${MODEL_URI}', 's3.endpoint' = '${S3_ENDPOINT}',
        's3.access-key' = '${S3_ACCESS_KEY}', 's3.secret-key' = '${S3_SECRET_KEY}',
        'max-batch-size' = '64', 'max-wait' = '2 ms', 'timeout' = '2 s');
SELECT eventId, label, probability, model_version, served_by, fallback
FROM ML_PREDICT(TABLE event_features, MODEL next_event, DESCRIPTOR(features), MAP['max-concurrent-operations', '256'])
LIMIT 10;
