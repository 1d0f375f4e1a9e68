package dev.flinkai.udfs.model;

import dev.flinkai.operators.inference.ModelMetadata;

import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;

import java.io.Serializable;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * How the model's {@code INPUT} columns become a feature row, in one of two shapes:
 * <ul>
 *   <li>one {@code ARRAY<FLOAT>} (or {@code ARRAY<DOUBLE>}) column, e.g. the feature vector the per-user context
 *       function emits: its length is only known per row, so a row shorter than the model's feature count is answered
 *       with a flagged fallback; a longer one gives the model its first values, as the DataStream job does (a model
 *       trained before a block of features was appended keeps working);</li>
 *   <li>one numeric column ({@code TINYINT} ... {@code BIGINT}, {@code FLOAT}, {@code DOUBLE}) per feature, in model
 *       order: their count must be the model's feature count, checked when the statement is planned.</li>
 * </ul>
 * A null value makes the row invalid (a flagged fallback), never a guessed feature.
 */
final class FeatureInput implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Set<LogicalTypeRoot> NUMERIC = EnumSet.of(LogicalTypeRoot.TINYINT, LogicalTypeRoot.SMALLINT,
            LogicalTypeRoot.INTEGER, LogicalTypeRoot.BIGINT, LogicalTypeRoot.FLOAT, LogicalTypeRoot.DOUBLE);

    /** Per input column (numeric shape) or the array's element type (array shape). */
    private final LogicalTypeRoot[] roots;
    private final boolean array;
    private final int featureCount;

    private FeatureInput(LogicalTypeRoot[] roots, boolean array, int featureCount) {
        this.roots = roots;
        this.array = array;
        this.featureCount = featureCount;
    }

    /**
     * The reader of {@code input} for {@code model}, or a {@link ValidationException} naming what does not fit.
     *
     * @param modelName how messages name the SQL model (its identifier)
     */
    static FeatureInput of(ResolvedSchema input, ModelMetadata model, String modelName, String uri) {
        List<Column> columns = input.getColumns();
        if (columns.size() == 1 && columns.get(0).getDataType().getLogicalType() instanceof ArrayType arrayType) {
            LogicalTypeRoot element = arrayType.getElementType().getTypeRoot();
            if (element != LogicalTypeRoot.FLOAT && element != LogicalTypeRoot.DOUBLE) {
                throw new ValidationException("Model " + modelName + ": the INPUT array column "
                        + columns.get(0).getName() + " must be ARRAY<FLOAT> or ARRAY<DOUBLE>, not " + arrayType);
            }
            return new FeatureInput(new LogicalTypeRoot[] {element}, true, model.featureCount());
        }
        LogicalTypeRoot[] roots = new LogicalTypeRoot[columns.size()];
        for (int i = 0; i < roots.length; i++) {
            LogicalType type = columns.get(i).getDataType().getLogicalType();
            if (!NUMERIC.contains(type.getTypeRoot())) {
                throw new ValidationException("Model " + modelName + ": INPUT column " + columns.get(i).getName()
                        + " is " + type + "; the INPUT is either one ARRAY<FLOAT> column or one numeric column "
                        + "(TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE) per feature");
            }
            roots[i] = type.getTypeRoot();
        }
        if (roots.length != model.featureCount()) {
            throw new ValidationException("Model " + modelName + ": its INPUT has " + roots.length
                    + " feature columns, but the model " + model.name() + " " + model.version() + " at " + uri
                    + " takes " + model.featureCount() + " features");
        }
        return new FeatureInput(roots, false, model.featureCount());
    }

    /** The row's features, {@code featureCount} of them; an {@link IllegalArgumentException} says why there are none. */
    float[] read(RowData row) {
        if (array) {
            if (row.isNullAt(0)) {
                throw new IllegalArgumentException("the feature array is null");
            }
            ArrayData values = row.getArray(0);
            if (values.size() < featureCount) {
                throw new IllegalArgumentException("expected at least " + featureCount + " values, got " + values.size());
            }
            float[] features = new float[featureCount];
            for (int i = 0; i < featureCount; i++) {
                if (values.isNullAt(i)) {
                    throw new IllegalArgumentException("feature " + i + " is null");
                }
                features[i] = roots[0] == LogicalTypeRoot.FLOAT ? values.getFloat(i) : (float) values.getDouble(i);
            }
            return features;
        }
        float[] features = new float[featureCount];
        for (int i = 0; i < featureCount; i++) {
            if (row.isNullAt(i)) {
                throw new IllegalArgumentException("feature " + i + " is null");
            }
            features[i] = switch (roots[i]) {
                case TINYINT -> row.getByte(i);
                case SMALLINT -> row.getShort(i);
                case INTEGER -> row.getInt(i);
                case BIGINT -> row.getLong(i);
                case FLOAT -> row.getFloat(i);
                case DOUBLE -> (float) row.getDouble(i);
                default -> throw new IllegalStateException("not a numeric column: " + roots[i]);
            };
        }
        return features;
    }
}
