package dev.flinkai.udfs.format;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.formats.avro.AvroToRowDataConverters;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;

import java.io.IOException;
import java.util.Objects;

/**
 * Plain Avro binary of one of the project's records (written with its generated schema, no header) to the table's
 * row. A record that does not decode fails the job, or with {@code ignore-parse-errors} is skipped and counted in
 * the source's {@value #PARSE_ERRORS} metric.
 */
final class RecordDeserializer implements DeserializationSchema<RowData> {
    private static final long serialVersionUID = 1L;

    static final String PARSE_ERRORS = "flinkaiAvroParseErrors";

    private final String record;
    private final RowType columns;
    private final TypeInformation<RowData> producedType;
    private final boolean ignoreParseErrors;

    private transient GenericDatumReader<GenericRecord> reader;
    private transient AvroToRowDataConverters.AvroToRowDataConverter converter;
    private transient BinaryDecoder decoder;
    private transient GenericRecord reuse;
    private transient Counter parseErrors;

    RecordDeserializer(String record, RowType columns, TypeInformation<RowData> producedType, boolean ignoreParseErrors) {
        this.record = record;
        this.columns = columns;
        this.producedType = producedType;
        this.ignoreParseErrors = ignoreParseErrors;
    }

    @Override
    public void open(InitializationContext context) {
        Schema writer = ProjectRecords.schema(record);
        reader = new GenericDatumReader<>(writer, RecordMapping.readerSchema(writer, columns));
        converter = AvroToRowDataConverters.createRowConverter(columns);
        parseErrors = context.getMetricGroup().counter(PARSE_ERRORS);
    }

    @Override
    public RowData deserialize(byte[] message) throws IOException {
        if (message == null) {
            return null;
        }
        try {
            decoder = DecoderFactory.get().binaryDecoder(message, decoder);
            reuse = reader.read(reuse, decoder);
            return (RowData) converter.convert(reuse);
        } catch (IOException | RuntimeException e) { // Avro reports some malformed input as runtime exceptions
            reuse = null;
            if (ignoreParseErrors) {
                parseErrors.inc();
                return null;
            }
            throw new IOException("Not a " + record + " in Avro binary (" + message.length + " bytes): " + e
                    + "; set '" + FlinkAiAvroFormatFactory.IDENTIFIER + "." + FlinkAiAvroFormatFactory.IGNORE_PARSE_ERRORS.key()
                    + "' = 'true' to skip such records", e);
        }
    }

    @Override
    public boolean isEndOfStream(RowData nextElement) {
        return false;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return producedType;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecordDeserializer d && record.equals(d.record) && columns.equals(d.columns)
                && ignoreParseErrors == d.ignoreParseErrors;
    }

    @Override
    public int hashCode() {
        return Objects.hash(record, columns, ignoreParseErrors);
    }
}
