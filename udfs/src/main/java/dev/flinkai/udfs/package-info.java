/**
 * What SQL users need to score and describe the user-event stream the way the DataStream jobs do: the user-event
 * format, the per-user context as a table function, the {@code ML_PREDICT} model provider and scalar helpers. All of it
 * goes through the same operators (codec, context, features, the model-client seam) as the main job.
 */
package dev.flinkai.udfs;
