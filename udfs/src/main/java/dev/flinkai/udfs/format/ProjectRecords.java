package dev.flinkai.udfs.format;

import dev.flinkai.schemas.DeadLetter;
import dev.flinkai.schemas.Kpi;
import dev.flinkai.schemas.KpiKey;
import dev.flinkai.schemas.ModelEvent;
import dev.flinkai.schemas.ModelUpdate;
import dev.flinkai.schemas.Prediction;
import dev.flinkai.schemas.UserEvent;
import dev.flinkai.schemas.UserProfile;

import org.apache.avro.Schema;
import org.apache.flink.table.api.ValidationException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The project's records a table can be declared over, by the simple name the format's {@code record} option takes.
 * The schema is always the generated class's: the bytes on the topics are written with it and carry no other.
 */
public final class ProjectRecords {

    private static final Map<String, Schema> SCHEMAS = new LinkedHashMap<>();

    static {
        for (Schema s : new Schema[] {UserEvent.getClassSchema(), Prediction.getClassSchema(), Kpi.getClassSchema(),
                KpiKey.getClassSchema(), UserProfile.getClassSchema(), ModelUpdate.getClassSchema(),
                ModelEvent.getClassSchema(), DeadLetter.getClassSchema()}) {
            SCHEMAS.put(s.getName(), s);
        }
    }

    private ProjectRecords() {}

    /** @throws ValidationException for a name that is not one of the project's records, listing them */
    public static Schema schema(String name) {
        Schema schema = SCHEMAS.get(name);
        if (schema == null) {
            throw new ValidationException("Unknown record '" + name + "' for the format "
                    + FlinkAiAvroFormatFactory.IDENTIFIER + "; the project's records are " + SCHEMAS.keySet());
        }
        return schema;
    }
}
