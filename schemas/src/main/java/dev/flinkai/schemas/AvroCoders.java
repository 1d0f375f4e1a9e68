package dev.flinkai.schemas;

import org.apache.avro.specific.SpecificData;

/**
 * Switches the project's records to the encoders and decoders Avro generates into each class ("custom coders").
 * Without this, Avro 1.11 walks the schema generically for every record, which showed up as the largest single share
 * of a profile of the main job. Flink's Avro serializers and Kafka schemas take the class's own SpecificData, so the
 * switch covers them too. Idempotent; call it where records are first (de)serialized in a JVM.
 */
public final class AvroCoders {

    private AvroCoders() {}

    public static void enable() {
        for (Class<?> type : new Class<?>[] {UserEvent.class, Prediction.class, DeadLetter.class,
                UserProfile.class, ModelUpdate.class, ModelEvent.class, Kpi.class, KpiKey.class}) {
            SpecificData.getForClass(type).setCustomCoders(true);
        }
    }
}
