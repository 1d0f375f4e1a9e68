package dev.flinkai.operators.inference;

import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/** {@link DescriptiveStatisticsHistogram} is not thread-safe: worker threads update it while reporters read it. */
public final class SynchronizedHistogram implements Histogram {
    private final DescriptiveStatisticsHistogram delegate;

    public SynchronizedHistogram(int windowSize) {
        this.delegate = new DescriptiveStatisticsHistogram(windowSize);
    }

    @Override
    public synchronized void update(long value) {
        delegate.update(value);
    }

    @Override
    public synchronized long getCount() {
        return delegate.getCount();
    }

    @Override
    public synchronized HistogramStatistics getStatistics() {
        return delegate.getStatistics();
    }
}
