package dev.flinkai.operators.ingest;

import dev.flinkai.schemas.DeadLetter;

import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/** Passes valid records on and sends dead letters to the {@link #DEAD_LETTERS} side output. */
public class DeadLetterRouter extends ProcessFunction<ReceivedRecord, ReceivedRecord> {

    public static final OutputTag<DeadLetter> DEAD_LETTERS = new OutputTag<>("dead-letters") {};

    @Override
    public void processElement(ReceivedRecord record, Context ctx, Collector<ReceivedRecord> out) {
        if (record.isValid()) {
            out.collect(record);
        } else {
            ctx.output(DEAD_LETTERS, record.deadLetter);
        }
    }
}
