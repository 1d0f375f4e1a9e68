package dev.flinkai.udfs.model;

import dev.flinkai.operators.inference.ModelMetadata;

import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The model's {@code OUTPUT} columns, chosen by name from what a prediction carries (any subset, any order):
 * <table>
 *   <tr><th>column</th><th>type</th><th>value</th></tr>
 *   <tr><td>label</td><td>STRING</td><td>the most probable label</td></tr>
 *   <tr><td>probability</td><td>FLOAT</td><td>its probability</td></tr>
 *   <tr><td>probabilities</td><td>ARRAY&lt;FLOAT&gt;</td><td>one per label, in the model's label order</td></tr>
 *   <tr><td>model_name, model_version</td><td>STRING</td><td>the model that answered</td></tr>
 *   <tr><td>served_by</td><td>STRING</td><td>remote, local, or priors (no model answered)</td></tr>
 *   <tr><td>fallback</td><td>BOOLEAN</td><td>true when not the serving model answered (timeout, error, invalid
 *       features, the fallback model)</td></tr>
 *   <tr><td>fallback_reason</td><td>STRING</td><td>why, else null</td></tr>
 * </table>
 * The same fields as the DataStream job's {@code Prediction} records. Names match case-insensitively; STRING stands
 * for any VARCHAR.
 */
final class PredictionOutput implements Serializable {
    private static final long serialVersionUID = 1L;

    enum Field {
        LABEL("STRING", PredictionOutput::isString),
        PROBABILITY("FLOAT", t -> t.getTypeRoot() == LogicalTypeRoot.FLOAT),
        PROBABILITIES("ARRAY<FLOAT>", t -> t instanceof ArrayType a && a.getElementType().getTypeRoot() == LogicalTypeRoot.FLOAT),
        MODEL_NAME("STRING", PredictionOutput::isString),
        MODEL_VERSION("STRING", PredictionOutput::isString),
        SERVED_BY("STRING", PredictionOutput::isString),
        FALLBACK("BOOLEAN", t -> t.getTypeRoot() == LogicalTypeRoot.BOOLEAN),
        FALLBACK_REASON("STRING", PredictionOutput::isString);

        final String type;
        private final Predicate<LogicalType> accepts;

        Field(String type, Predicate<LogicalType> accepts) {
            this.type = type;
            this.accepts = accepts;
        }

        String column() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Field[] fields;

    private PredictionOutput(Field[] fields) {
        this.fields = fields;
    }

    static PredictionOutput of(ResolvedSchema output, String modelName) {
        List<Column> columns = output.getColumns();
        Field[] fields = new Field[columns.size()];
        for (int i = 0; i < fields.length; i++) {
            Column column = columns.get(i);
            Field field = Arrays.stream(Field.values()).filter(f -> f.column().equalsIgnoreCase(column.getName()))
                    .findFirst().orElseThrow(() -> new ValidationException("Model " + modelName + ": unknown OUTPUT "
                            + "column " + column.getName() + "; supported: " + supported()));
            if (!field.accepts.test(column.getDataType().getLogicalType())) {
                throw new ValidationException("Model " + modelName + ": OUTPUT column " + column.getName() + " must be "
                        + field.type + ", not " + column.getDataType().getLogicalType());
            }
            fields[i] = field;
        }
        return new PredictionOutput(fields);
    }

    private static String supported() {
        return Arrays.stream(Field.values()).map(f -> f.column() + " " + f.type).collect(Collectors.joining(", "));
    }

    private static boolean isString(LogicalType type) {
        return type.getTypeRoot() == LogicalTypeRoot.VARCHAR;
    }

    /** One output row: {@code scores} of {@code model}; {@code fallbackReason} null when the serving model answered. */
    RowData row(float[] scores, ModelMetadata model, String servedBy, String fallbackReason) {
        int top = ModelMetadata.argmax(scores);
        GenericRowData row = new GenericRowData(fields.length);
        for (int i = 0; i < fields.length; i++) {
            row.setField(i, switch (fields[i]) {
                case LABEL -> StringData.fromString(model.labels().get(top));
                case PROBABILITY -> scores[top];
                case PROBABILITIES -> new GenericArrayData(scores);
                case MODEL_NAME -> StringData.fromString(model.name());
                case MODEL_VERSION -> StringData.fromString(model.version());
                case SERVED_BY -> StringData.fromString(servedBy);
                case FALLBACK -> fallbackReason != null;
                case FALLBACK_REASON -> StringData.fromString(fallbackReason);
            });
        }
        return row;
    }
}
