package dev.flinkai.udfs.functions;

import org.apache.datasketches.kll.KllDoublesSketch;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.annotation.InputGroup;
import org.apache.flink.table.functions.AggregateFunction;
import org.apache.flink.types.Row;

/**
 * {@code PERCENTILES(value)}: the median, 95th and 99th percentile of the non-null values of a group, from a KLL
 * sketch (Apache DataSketches, k = 200: exact up to about 200 values, then a normalized rank error around 1.3 %),
 * so a window keeps a few kilobytes whatever its size. Each percentile is an input value: the smallest whose
 * inclusive rank reaches it. Null for a group without values.
 */
@FunctionHint(accumulator = @DataTypeHint(value = "RAW", bridgedTo = KllDoublesSketch.class,
        rawSerializer = KllSketchSerializer.class), output = @DataTypeHint("ROW<p50 DOUBLE, p95 DOUBLE, p99 DOUBLE>"))
public class Percentiles extends AggregateFunction<Row, KllDoublesSketch> {
    private static final long serialVersionUID = 1L;

    @Override
    public KllDoublesSketch createAccumulator() {
        return KllDoublesSketch.newHeapInstance();
    }

    public void accumulate(KllDoublesSketch sketch, @DataTypeHint(inputGroup = InputGroup.ANY) Object value) {
        if (value != null) {
            sketch.update(((Number) value).doubleValue());
        }
    }

    public void merge(KllDoublesSketch sketch, Iterable<KllDoublesSketch> others) {
        for (KllDoublesSketch other : others) {
            sketch.merge(other);
        }
    }

    @Override
    public Row getValue(KllDoublesSketch sketch) {
        if (sketch.isEmpty()) {
            return null;
        }
        return Row.of(sketch.getQuantile(0.5), sketch.getQuantile(0.95), sketch.getQuantile(0.99));
    }
}
