package dev.flinkai.operators.inference;

import dev.flinkai.schemas.Prediction;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;

/**
 * The naive way to score a stream, kept as the benchmark baseline: one synchronous DJL {@code predict} call with a
 * one-row batch per event, on the task thread. Loads the same model the same way as {@link BatchingInferenceFunction}
 * ({@link ModelArtifacts} + {@link DjlScorer}) and answers with the same {@link Prediction}s; a request with bad
 * features or a failing model call gets the same kind of fallback (class priors, {@code fallback=true}).
 *
 * <p>Metrics, in the subgroup {@code inference}: counters {@code predictions}, {@code fallbacks}.
 */
public class PerEventInferenceFunction extends RichMapFunction<ScoringRequest, Prediction> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(PerEventInferenceFunction.class);

    private final InferenceSettings settings;

    private transient ServedModel model;
    private transient BatchScorer predictor;
    private transient float[][] oneRow;
    private transient Counter predictions;
    private transient Counter fallbacks;

    /** Only the model location and S3 access of {@code settings} are used; there is no batching. */
    public PerEventInferenceFunction(InferenceSettings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
        settings.validate();
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
        model = ServedModel.open(settings, "naive-" + subtask);
        predictor = model.scorer().newPredictor();
        oneRow = new float[1][];
        MetricGroup group = getRuntimeContext().getMetricGroup().addGroup("inference");
        predictions = group.counter("predictions");
        fallbacks = group.counter("fallbacks");
        LOG.info("Per-event inference subtask {} serves {} {} from {}", subtask, model.metadata().name(),
                model.metadata().version(), settings.modelUri());
    }

    @Override
    public Prediction map(ScoringRequest request) {
        String invalid = model.invalidFeatures(request);
        if (invalid != null) {
            return fallback(request, invalid);
        }
        float[] scores;
        try {
            oneRow[0] = request.features;
            float[][] out = predictor.score(oneRow);
            if (out == null || out.length != 1) {
                throw new IllegalStateException("model returned " + (out == null ? "nothing" : out.length + " rows") + " for 1");
            }
            scores = out[0];
        } catch (Exception e) {
            return fallback(request, "model error: " + BatchingInferenceFunction.describe(e));
        } finally {
            oneRow[0] = null;
        }
        predictions.inc();
        return model.prediction(request, scores, System.currentTimeMillis());
    }

    private Prediction fallback(ScoringRequest request, String reason) {
        fallbacks.inc();
        return model.fallback(request, reason);
    }

    @Override
    public void close() throws Exception {
        try {
            if (predictor != null) {
                predictor.close();
                predictor = null;
            }
        } finally {
            if (model != null) {
                model.close();
                model = null;
            }
        }
    }
}
