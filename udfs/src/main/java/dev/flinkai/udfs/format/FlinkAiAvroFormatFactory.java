package dev.flinkai.udfs.format;

import org.apache.avro.Schema;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

import java.util.Set;

import static org.apache.flink.configuration.ConfigOptions.key;

/**
 * {@code 'format' = 'flinkai-avro'}: the project's records as its Kafka topics hold them, plain Avro binary of the
 * generated schema with no header or registry. Flink's own {@code avro} format cannot read them: it derives the
 * writer schema from the table's columns, which neither names the record nor knows that {@code eventType} is an Avro
 * enum. Here the record's schema is the project's, and columns map to its fields by name.
 *
 * <pre>
 * 'format' = 'flinkai-avro', 'flinkai-avro.record' = 'UserEvent' [, 'flinkai-avro.ignore-parse-errors' = 'true']
 * </pre>
 */
public final class FlinkAiAvroFormatFactory implements DeserializationFormatFactory, SerializationFormatFactory {

    public static final String IDENTIFIER = "flinkai-avro";

    public static final ConfigOption<String> RECORD = key("record").stringType().noDefaultValue()
            .withDescription("The project's record the values are: UserEvent, Prediction, Kpi, KpiKey, UserProfile, "
                    + "ModelUpdate, ModelEvent, DeadLetter.");
    public static final ConfigOption<Boolean> IGNORE_PARSE_ERRORS = key("ignore-parse-errors").booleanType()
            .defaultValue(false)
            .withDescription("Skip (and count in the flinkaiAvroParseErrors metric) a value that does not decode, "
                    + "instead of failing the job.");

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(DynamicTableFactory.Context context,
                                                                               ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        String record = formatOptions.get(RECORD);
        Schema schema = ProjectRecords.schema(record);
        boolean ignoreParseErrors = formatOptions.get(IGNORE_PARSE_ERRORS);
        return new DecodingFormat<>() {
            @Override
            public DeserializationSchema<RowData> createRuntimeDecoder(DynamicTableSource.Context context,
                                                                       DataType physicalDataType) {
                RowType columns = (RowType) physicalDataType.getLogicalType();
                RecordMapping.check(schema, columns);
                return new RecordDeserializer(record, columns, context.createTypeInformation(physicalDataType),
                        ignoreParseErrors);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }

    @Override
    public EncodingFormat<SerializationSchema<RowData>> createEncodingFormat(DynamicTableFactory.Context context,
                                                                             ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        String record = formatOptions.get(RECORD);
        Schema schema = ProjectRecords.schema(record);
        return new EncodingFormat<>() {
            @Override
            public SerializationSchema<RowData> createRuntimeEncoder(DynamicTableSink.Context context,
                                                                     DataType physicalDataType) {
                RowType columns = (RowType) physicalDataType.getLogicalType();
                RecordMapping.checkWritable(schema, columns);
                return new RecordSerializer(record, columns);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(RECORD);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(IGNORE_PARSE_ERRORS);
    }
}
