package dev.flinkai.jobs;

import org.apache.flink.configuration.Configuration;

import java.util.Arrays;

/**
 * Checks a job's arguments exactly as the job does when it starts, without starting anything, so that
 * {@code deploy/local/up.sh} refuses a bad setting before it brings a process up.
 *
 * <pre>java -cp flink-ai-jobs.jar:&lt;Flink's lib&gt; dev.flinkai.jobs.CheckSettings ContextInferenceJob --key value ...</pre>
 * Exit status 0 when the arguments are valid; 2 with the reason on stderr when not.
 */
public final class CheckSettings {

    private CheckSettings() {}

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: CheckSettings ContextInferenceJob|EventGeneratorJob|KpiJob|OpsJob --key value ...");
            System.exit(2);
        }
        String[] jobArgs = Arrays.copyOfRange(args, 1, args.length);
        try {
            switch (args[0].substring(args[0].lastIndexOf('.') + 1)) {
                case "ContextInferenceJob" -> ContextInferenceSettings.fromArgs(jobArgs);
                case "EventGeneratorJob" -> EventGeneratorJob.settings(jobArgs, new Configuration());
                case "KpiJob" -> KpiSettings.fromArgs(jobArgs);
                case "OpsJob" -> OpsSettings.fromArgs(jobArgs);
                default -> throw new IllegalArgumentException("no settings check for " + args[0]);
            }
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        }
    }
}
