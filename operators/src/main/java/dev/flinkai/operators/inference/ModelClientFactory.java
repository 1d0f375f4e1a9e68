package dev.flinkai.operators.inference;

import org.apache.flink.metrics.MetricGroup;

import java.io.Serializable;

/**
 * Opens the {@link ModelClient} of one parallel instance; shipped with the job graph, so it must be serializable.
 * {@link ModelClients#DEFAULT} picks the backend by the model URI; tests and decorating setups pass their own.
 */
@FunctionalInterface
public interface ModelClientFactory extends Serializable {

    /**
     * @param owner   names the instance (e.g. "subtask-3"), for its threads and files
     * @param metrics where the client registers metrics of its own (e.g. its queue)
     */
    ModelClient open(ModelSettings settings, String owner, MetricGroup metrics) throws Exception;
}
