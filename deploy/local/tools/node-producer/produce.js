#!/usr/bin/env node
// A producer of the user-events topic in another language, built from the .avsc files in schemas/ alone: it is the
// proof that the README's wire format is all a producer needs (no Java, no generated code, no schema registry).
//   node produce.js --bootstrap 127.0.0.1:9092 --topic user-events --users node-user-1,node-user-2 --count 50
// Writes --count events, round-robin over --users, each keyed by its userId, and prints each event's eventId and
// userId (tab-separated), one line per event, once the broker acknowledged it. Exits non-zero on any failure.
'use strict';

const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const avro = require('avsc');
const { Kafka, Partitioners, logLevel } = require('kafkajs');

const { values: opts } = parseArgs({
  options: {
    bootstrap: { type: 'string', default: '127.0.0.1:9092' },
    topic: { type: 'string', default: 'user-events' },
    users: { type: 'string', default: 'node-user-1' },
    count: { type: 'string', default: '50' },
    run: { type: 'string', default: `${Date.now()}` },
    schemas: { type: 'string', default: path.join(__dirname, '../../../../schemas/src/main/avro') },
  },
});

// The value's schema is UserEvent.avsc as committed; it names EventType, which is defined in its own file, so that
// one is parsed first into the same registry.
const registry = {};
const load = (file) => avro.Type.forSchema(JSON.parse(fs.readFileSync(path.join(opts.schemas, file), 'utf8')), { registry });
load('EventType.avsc');
const userEvent = load('UserEvent.avsc');

const TYPES = ['QUERY', 'ACTION', 'FEEDBACK', 'TASK_OUTCOME'];
const FEATURES = ['chat', 'search', 'code', 'summarize'];

function event(i, userId) {
  const eventType = TYPES[i % TYPES.length];
  return {
    eventId: `node-${opts.run}-${i}`, // unique per event: the prediction carries it back
    userId,
    sessionId: `node-${opts.run}-${userId}`,
    eventType,
    eventTimeMillis: Date.now(),
    priority: 0,
    feature: FEATURES[i % FEATURES.length], // a ["null","string"] union: avsc takes the plain value or null
    latencyMillis: 200 + (i % 7) * 50,
    inputTokens: 20 + i,
    outputTokens: eventType === 'QUERY' ? 150 : 0,
    success: eventType === 'TASK_OUTCOME' ? i % 3 !== 0 : null,
    rating: eventType === 'FEEDBACK' ? 1 + (i % 5) : null,
  };
}

async function main() {
  const users = opts.users.split(',').map((u) => u.trim()).filter((u) => u);
  const count = Number.parseInt(opts.count, 10);
  if (!users.length || !(count > 0)) throw new Error('--users needs at least one user id and --count a positive number');
  const events = Array.from({ length: count }, (_, i) => event(i, users[i % users.length]));
  const messages = events.map((e) => {
    const errors = [];
    if (!userEvent.isValid(e, { errorHook: (p) => errors.push(p.join('.')) })) {
      throw new Error(`event ${e.eventId} does not fit UserEvent.avsc: ${errors}`);
    }
    // Key: the userId in UTF-8, as every producer of the topic writes it (Kafka's default partitioner then keeps a
    // user's events on one partition, in order). Value: the plain Avro binary of the record, nothing before it.
    return { key: Buffer.from(e.userId, 'utf8'), value: userEvent.toBuffer(e) };
  });

  const kafka = new Kafka({
    clientId: 'node-producer',
    brokers: opts.bootstrap.split(','),
    logLevel: logLevel.WARN,
    // kafkajs logs to stdout by default; stdout carries the event ids
    logCreator: () => ({ namespace, log }) => console.error(`kafkajs ${namespace}: ${log.message}`),
  });
  // The Java client's partitioner (murmur2 of the key), so the same user lands on the same partition as with the
  // Java producers of the topic.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
  await producer.connect();
  try {
    await producer.send({ topic: opts.topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
  for (const e of events) process.stdout.write(`${e.eventId}\t${e.userId}\n`);
}

main().catch((e) => {
  console.error(`node-producer: ${e.stack || e}`);
  process.exit(1);
});
