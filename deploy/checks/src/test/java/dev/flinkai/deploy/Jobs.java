package dev.flinkai.deploy;

import dev.flinkai.jobs.ContextInferenceJob;
import dev.flinkai.jobs.ContextInferenceOptions;
import dev.flinkai.jobs.ContextInferenceOptions.Delivery;
import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.EventGeneratorJob;
import dev.flinkai.jobs.KpiJob;
import dev.flinkai.jobs.KpiSettings;
import dev.flinkai.jobs.OpsJob;
import dev.flinkai.jobs.OpsSettings;
import dev.flinkai.operators.detectors.WindowStatsStage;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.streaming.api.graph.StreamNode;
import org.apache.flink.streaming.api.operators.SourceOperatorFactory;
import org.apache.flink.streaming.runtime.operators.sink.CommitterOperatorFactory;
import org.apache.flink.streaming.runtime.operators.sink.SinkWriterOperatorFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The project's job entry classes as a deployment sees them: whether the job holds state that an upgrade must carry
 * over (then it must upgrade through a savepoint), the Kafka topics it reads and writes (by their options: named in
 * the arguments or by default; an empty name turns that input or output off), its consumer group, whether it writes
 * in Kafka transactions, and the job's own settings check, run on a deployment's arguments with its Flink
 * configuration and its pods' environment exactly as the job runs it at start.
 */
enum Jobs {
    CONTEXT_INFERENCE(ContextInferenceJob.class.getName(), true,
            List.of(ContextInferenceOptions.TOPIC_EVENTS, ContextInferenceOptions.TOPIC_PROFILES,
                    ContextInferenceOptions.TOPIC_MODEL_UPDATES),
            List.of(ContextInferenceOptions.TOPIC_PREDICTIONS, ContextInferenceOptions.TOPIC_DEAD_LETTERS,
                    ContextInferenceOptions.TOPIC_MODEL_EVENTS),
            ContextInferenceOptions.GROUP_ID, ContextInferenceOptions.DELIVERY) {
        @Override
        void checkSettings(String[] args, Configuration cluster, Map<String, String> environment) {
            ContextInferenceSettings.from(args, cluster, environment);
        }
    },
    EVENT_GENERATOR(EventGeneratorJob.class.getName(), false, List.of(),
            List.of(ContextInferenceOptions.TOPIC_EVENTS, ContextInferenceOptions.TOPIC_PROFILES), null, null) {
        @Override
        void checkSettings(String[] args, Configuration cluster, Map<String, String> environment) {
            EventGeneratorJob.settings(args, cluster, environment);
        }
    },
    KPIS(KpiJob.class.getName(), true, List.of(ContextInferenceOptions.TOPIC_EVENTS), List.of(KpiSettings.TOPIC_KPIS),
            KpiSettings.GROUP_ID, null) {
        @Override
        void checkSettings(String[] args, Configuration cluster, Map<String, String> environment) {
            KpiSettings.from(args, cluster, environment);
        }
    },
    OPS(OpsJob.class.getName(), true,
            List.of(ContextInferenceOptions.TOPIC_EVENTS, ContextInferenceOptions.TOPIC_PREDICTIONS,
                    ContextInferenceOptions.TOPIC_DEAD_LETTERS),
            List.of(OpsSettings.TOPIC_ALERTS), OpsSettings.GROUP_ID, ContextInferenceOptions.DELIVERY) {
        @Override
        void checkSettings(String[] args, Configuration cluster, Map<String, String> environment) {
            OpsSettings.from(args, cluster, environment);
        }
    };

    final String entryClass;
    final boolean stateful;
    final List<ConfigOption<String>> reads;
    final List<ConfigOption<String>> writes;
    /** The consumer group of what it reads; null when it reads nothing. */
    final ConfigOption<String> groupId;
    /** Its delivery guarantee, exactly-once meaning transactions named after the group; null when it has no choice. */
    final ConfigOption<Delivery> delivery;

    Jobs(String entryClass, boolean stateful, List<ConfigOption<String>> reads, List<ConfigOption<String>> writes,
         ConfigOption<String> groupId, ConfigOption<Delivery> delivery) {
        this.entryClass = entryClass;
        this.stateful = stateful;
        this.reads = reads;
        this.writes = writes;
        this.groupId = groupId;
        this.delivery = delivery;
    }

    /** Whether these arguments make the job write in Kafka transactions. */
    boolean transactional(Map<String, String> given) {
        if (delivery == null) {
            return false;
        }
        // read as the job reads it (its settings check has passed)
        String value = given.get(delivery.key());
        Configuration parsed = Configuration.fromMap(value == null ? Map.of() : Map.of(delivery.key(), value));
        return parsed.get(delivery) == Delivery.EXACTLY_ONCE;
    }

    /** Throws IllegalArgumentException naming the refused setting. */
    abstract void checkSettings(String[] args, Configuration cluster, Map<String, String> environment);

    static Optional<Jobs> byEntryClass(String entryClass) {
        for (Jobs job : values()) {
            if (job.entryClass.equals(entryClass)) {
                return Optional.of(job);
            }
        }
        return Optional.empty();
    }

    /** An operator of a job graph: its uid (null when none was set) and its name. */
    record Operator(String uid, String name) {}

    /**
     * The operators of the main job as these arguments build it. A savepoint maps state
     * to operators by uid: an operator without one gets a uid derived from the graph's shape, which changes with the
     * next change of the pipeline and strands its state.
     */
    static List<Operator> mainJobOperators(String[] args, Configuration cluster, Map<String, String> environment) {
        ContextInferenceSettings settings = ContextInferenceSettings.from(args, cluster, environment);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(cluster);
        ContextInferenceJob.configure(env, settings);
        // The model's name only filters the model updates (the job reads it from the model's metadata at submission):
        // the graph is the same whatever it is.
        ContextInferenceJob.buildPipeline(ContextInferenceJob.kafkaInput(env, settings),
                ContextInferenceJob.modelUpdates(env, settings, "next-event-mlp"),
                ContextInferenceJob.kafkaOutputs(settings), settings);
        StreamGraph graph = env.getStreamGraph();
        List<Operator> operators = new ArrayList<>();
        for (StreamNode node : graph.getStreamNodes()) {
            operators.add(new Operator(node.getTransformationUID(), node.getOperatorName()));
        }
        return operators;
    }

    /** The uids the ops job gives its operators with state (OpsJob, WindowStatsStage). */
    static final Set<String> OPS_UIDS = Set.of(OpsJob.EVENTS_SOURCE_UID, OpsJob.PREDICTIONS_SOURCE_UID,
            OpsJob.DEAD_LETTERS_SOURCE_UID, WindowStatsStage.JOIN_UID, WindowStatsStage.WINDOW_UID,
            WindowStatsStage.DEAD_LETTERS_UID, WindowStatsStage.TOTALS_UID, OpsJob.DETECTORS_UID,
            OpsJob.LATE_RECORDS_UID, OpsJob.ALERTS_SINK_UID);

    /**
     * The operators of the ops job that hold state, as these arguments build it: its sources (offsets), keyed
     * operators (the join, the windows, the detectors) and sinks (transactions). Its maps and filters hold none and
     * need no uid.
     */
    static List<Operator> opsJobStatefulOperators(String[] args, Configuration cluster,
                                                  Map<String, String> environment) {
        OpsSettings settings = OpsSettings.from(args, cluster, environment);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(cluster);
        OpsJob.configure(env, settings);
        OpsJob.buildPipeline(OpsJob.kafkaInputs(env, settings), OpsJob.alertSink(settings), settings);
        List<Operator> operators = new ArrayList<>();
        for (StreamNode node : env.getStreamGraph().getStreamNodes()) {
            var factory = node.getOperatorFactory();
            if (node.getStateKeySerializer() != null || factory instanceof SourceOperatorFactory
                    || factory instanceof SinkWriterOperatorFactory || factory instanceof CommitterOperatorFactory) {
                operators.add(new Operator(node.getTransformationUID(), node.getOperatorName()));
            }
        }
        return operators;
    }
}
