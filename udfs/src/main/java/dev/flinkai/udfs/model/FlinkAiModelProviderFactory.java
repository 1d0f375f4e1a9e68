package dev.flinkai.udfs.model;

import dev.flinkai.operators.inference.ModelClient;
import dev.flinkai.operators.inference.ModelClients;
import dev.flinkai.operators.inference.ModelMetadata;
import dev.flinkai.operators.inference.ModelSettings;
import dev.flinkai.operators.inference.Predictions;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.ResolvedCatalogModel;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.ModelProviderFactory;
import org.apache.flink.table.functions.AsyncPredictFunction;
import org.apache.flink.table.ml.AsyncPredictRuntimeProvider;
import org.apache.flink.table.ml.ModelProvider;

import java.time.Duration;
import java.util.Set;

/**
 * {@code CREATE MODEL ... WITH ('provider' = 'flinkai', 'uri' = ...)}: {@code ML_PREDICT} through the project's
 * model-client seam, micro-batched ({@link BatchingPredictFunction}); options in {@link FlinkAiModelOptions}.
 *
 * <p>Checked when a statement that uses the model is planned (Flink creates the provider then; {@code CREATE MODEL}
 * itself only stores the options): unknown options (Flink's error names the key), then the model itself. The planner
 * opens the model with the same client a subtask will ({@link ModelClients#DEFAULT}: it fetches the file, checks its
 * SHA-256 and loads it, or asks the endpoint for its metadata) and reads the feature count, labels and priors from
 * its {@link ModelMetadata}, the metadata the training side writes beside the model (or the endpoint serves). Its
 * feature count must fit the INPUT ({@link FeatureInput}), and the OUTPUT columns must be ones a prediction has
 * ({@link PredictionOutput}). So a wrong URI, checksum or shape fails the statement, not the running job.
 */
public class FlinkAiModelProviderFactory implements ModelProviderFactory {

    public static final String IDENTIFIER = "flinkai";

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return FlinkAiModelOptions.REQUIRED;
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return FlinkAiModelOptions.OPTIONAL;
    }

    @Override
    public ModelProvider createModelProvider(Context context) {
        FactoryUtil.ModelProviderFactoryHelper helper = FactoryUtil.createModelProviderFactoryHelper(this, context);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        String name = context.getObjectIdentifier().asSummaryString();
        int maxBatchSize = options.get(FlinkAiModelOptions.MAX_BATCH_SIZE);
        Duration maxWait = options.get(FlinkAiModelOptions.MAX_WAIT);
        Duration timeout = options.get(FlinkAiModelOptions.TIMEOUT);
        if (maxBatchSize < 1) {
            throw new ValidationException("Model " + name + ": max-batch-size must be >= 1, got " + maxBatchSize);
        }
        if (maxWait.isNegative()) {
            throw new ValidationException("Model " + name + ": max-wait must not be negative, got " + maxWait);
        }
        if (timeout.toMillis() < 1) {
            throw new ValidationException("Model " + name + ": timeout must be at least 1 ms, got " + timeout);
        }
        ModelSettings settings;
        try {
            settings = FlinkAiModelOptions.settings(options);
        } catch (IllegalArgumentException e) {
            throw new ValidationException("Model " + name + ": " + e.getMessage(), e);
        }
        ModelMetadata metadata = describe(settings, name);
        ResolvedCatalogModel model = context.getCatalogModel();
        FeatureInput input = FeatureInput.of(model.getResolvedInputSchema(), metadata, name, settings.modelUri());
        PredictionOutput output = PredictionOutput.of(model.getResolvedOutputSchema(), name);
        return new Provider(new BatchingPredictFunction(settings, input, output, maxBatchSize, maxWait, timeout,
                options.get(FlinkAiModelOptions.BATCHING)));
    }

    /** The model's metadata, read by opening it as a subtask would; the client is closed at once. */
    private static ModelMetadata describe(ModelSettings settings, String name) {
        try (ModelClient client = ModelClients.DEFAULT.open(settings, "planner", new UnregisteredMetricsGroup())) {
            return client.metadata();
        } catch (Exception e) {
            throw new ValidationException("Model " + name + ": cannot open " + settings.modelUri() + ": "
                    + Predictions.describe(e), e);
        }
    }

    /** Hands the planner the one function, as Flink's own providers do; the planner copies it with the plan. */
    private record Provider(AsyncPredictFunction function) implements AsyncPredictRuntimeProvider {
        @Override
        public AsyncPredictFunction createAsyncPredictFunction(Context context) {
            return function;
        }

        @Override
        public ModelProvider copy() {
            return new Provider(function);
        }
    }
}
