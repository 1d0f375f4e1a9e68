package dev.flinkai.operators.inference;

import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.Prediction;

import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.types.Either;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Splits what {@link BatchingInferenceFunction} answers: predictions to the main output, model events (loaded,
 * rejected, active) to {@link #MODEL_EVENTS}. Chained to the inference operator, so it costs a call per prediction.
 */
public class ModelEventSplitter extends ProcessFunction<Either<Prediction, ModelEvent>, Prediction> {

    public static final OutputTag<ModelEvent> MODEL_EVENTS = new OutputTag<>("model-events") {};

    @Override
    public void processElement(Either<Prediction, ModelEvent> value, Context ctx, Collector<Prediction> out) {
        if (value.isLeft()) {
            out.collect(value.left());
        } else {
            ctx.output(MODEL_EVENTS, value.right());
        }
    }
}
