package dev.flinkai.operators.detectors;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.Counter;

/**
 * Where the records that came later than the allowed lateness for their window end: counted in the metric
 * {@code opsLateRecords}. They change no statistics, but they are not lost without a trace; a rising count says the
 * lateness ({@code watermark.out-of-orderness}) is too short for the inputs.
 */
public class LateRecordCounter implements Sink<Observation> {
    private static final long serialVersionUID = 1L;

    @Override
    public SinkWriter<Observation> createWriter(WriterInitContext context) {
        Counter late = context.metricGroup().counter("opsLateRecords");
        return new SinkWriter<>() {
            @Override
            public void write(Observation record, Context context) {
                late.inc();
            }

            @Override
            public void flush(boolean endOfInput) {}

            @Override
            public void close() {}
        };
    }
}
