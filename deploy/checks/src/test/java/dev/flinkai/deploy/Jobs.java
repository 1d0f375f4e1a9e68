package dev.flinkai.deploy;

import dev.flinkai.jobs.ContextInferenceJob;
import dev.flinkai.jobs.ContextInferenceSettings;
import dev.flinkai.jobs.EventGeneratorJob;
import dev.flinkai.jobs.KpiJob;
import dev.flinkai.jobs.KpiSettings;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.streaming.api.graph.StreamNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The project's job entry classes as a deployment sees them: whether the job holds state that an upgrade must carry
 * over (then it must upgrade through a savepoint), and the job's own settings check, run on a deployment's arguments
 * with its Flink configuration and its pods' environment exactly as the job runs it at start.
 */
enum Jobs {
    CONTEXT_INFERENCE(ContextInferenceJob.class.getName(), true) {
        @Override
        void checkSettings(String[] args, Configuration cluster, Map<String, String> environment) {
            ContextInferenceSettings.from(args, cluster, environment);
        }
    },
    EVENT_GENERATOR(EventGeneratorJob.class.getName(), false) {
        @Override
        void checkSettings(String[] args, Configuration cluster, Map<String, String> environment) {
            EventGeneratorJob.settings(args, cluster, environment);
        }
    },
    KPIS(KpiJob.class.getName(), true) {
        @Override
        void checkSettings(String[] args, Configuration cluster, Map<String, String> environment) {
            KpiSettings.from(args, cluster, environment);
        }
    };

    final String entryClass;
    final boolean stateful;

    Jobs(String entryClass, boolean stateful) {
        this.entryClass = entryClass;
        this.stateful = stateful;
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
}
