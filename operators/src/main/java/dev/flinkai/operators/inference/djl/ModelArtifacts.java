package dev.flinkai.operators.inference.djl;

import dev.flinkai.operators.inference.ModelMetadata;
import io.minio.GetObjectArgs;
import io.minio.GetObjectResponse;
import io.minio.MinioClient;
import io.minio.errors.ErrorResponseException;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Brings a model and its metadata to the local disk. A model URI names the TorchScript file; the metadata json lives
 * beside it with the same base name ({@code .../next_event_mlp.pt} → {@code .../next_event_mlp.json}).
 *
 * <ul>
 *   <li>{@code file:/abs/model.pt}, {@code file:///abs/model.pt} or a plain path: used in place (nothing is copied);</li>
 *   <li>{@code s3://bucket/key/model.pt} (also {@code s3a://}): both objects are downloaded with the MinIO client
 *       (path-style) into the given directory.</li>
 * </ul>
 */
public final class ModelArtifacts {

    /** Connect, read and write timeout of the S3 client. */
    private static final long S3_TIMEOUT_MILLIS = 30_000;

    private ModelArtifacts() {}

    /** A model on local disk, ready for {@link DjlModel#load}. */
    public record LocalModel(String uri, Path modelFile, Path metadataFile, ModelMetadata metadata) {}

    /**
     * Where and how to reach an S3-compatible store. Any null field falls back to the environment when resolved:
     * {@code S3_ENDPOINT} (then {@code AWS_ENDPOINT_URL}), {@code AWS_ACCESS_KEY_ID}, {@code AWS_SECRET_ACCESS_KEY},
     * {@code AWS_REGION} (then {@code us-east-1}).
     */
    public record S3Access(String endpoint, String accessKey, String secretKey, String region) implements Serializable {
        public static S3Access fromEnvironment() {
            return new S3Access(null, null, null, null);
        }

        /** Fills null fields from the environment; fails naming what is still missing. */
        public S3Access resolved() {
            String ep = firstNonBlank(endpoint, System.getenv("S3_ENDPOINT"), System.getenv("AWS_ENDPOINT_URL"));
            String ak = firstNonBlank(accessKey, System.getenv("AWS_ACCESS_KEY_ID"));
            String sk = firstNonBlank(secretKey, System.getenv("AWS_SECRET_ACCESS_KEY"));
            String rg = firstNonBlank(region, System.getenv("AWS_REGION"), "us-east-1");
            if (ep == null) {
                throw new IllegalArgumentException("No S3 endpoint: set it in the settings or in S3_ENDPOINT");
            }
            if (ak == null || sk == null) {
                throw new IllegalArgumentException(
                        "No S3 credentials: set them in the settings or in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
            }
            return new S3Access(ep, ak, sk, rg);
        }

        @Override
        public String toString() { // never print the secret
            return "S3Access{endpoint=" + endpoint + ", accessKey=" + accessKey + ", region=" + region + "}";
        }
    }

    /**
     * Fetches the model named by {@code uri} and its metadata. {@code downloadDir} receives downloaded objects (created if
     * needed; ignored for local files). {@code s3} may be null for local URIs.
     *
     * @throws IOException naming the URI when an object or file is missing or unreadable
     */
    public static LocalModel fetch(String uri, S3Access s3, Path downloadDir) throws IOException {
        Objects.requireNonNull(uri, "model uri");
        String trimmed = uri.trim();
        if (trimmed.startsWith("s3://") || trimmed.startsWith("s3a://")) {
            return fetchS3(trimmed, s3 == null ? S3Access.fromEnvironment() : s3, downloadDir, true);
        }
        return fetchLocal(trimmed);
    }

    /**
     * Only the metadata of the model named by {@code uri}, read without fetching the model itself.
     *
     * @throws IOException naming the URI when it is missing or unreadable
     */
    public static ModelMetadata fetchMetadata(String uri, S3Access s3) throws IOException {
        Objects.requireNonNull(uri, "model uri");
        String trimmed = uri.trim();
        if (!trimmed.startsWith("s3://") && !trimmed.startsWith("s3a://")) {
            return fetchLocal(trimmed).metadata();
        }
        Path dir = Files.createTempDirectory("model-metadata-");
        try {
            return fetchS3(trimmed, s3 == null ? S3Access.fromEnvironment() : s3, dir, false).metadata();
        } finally {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /** Refuses a fetched model file whose SHA-256 is not {@code expectedHex}, naming both. */
    public static void requireSha256(LocalModel model, String expectedHex) throws IOException {
        String actual = sha256Hex(model.modelFile());
        if (!actual.equalsIgnoreCase(expectedHex.trim())) {
            throw new IOException("Checksum mismatch: " + model.uri() + " has SHA-256 " + actual + ", expected "
                    + expectedHex.trim());
        }
    }

    /** The SHA-256 of a file, in lowercase hex. */
    public static String sha256Hex(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[64 * 1024];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** {@code dir/name.pt} → {@code dir/name.json}; works on object keys and paths. */
    public static String metadataNameFor(String modelName) {
        int slash = modelName.lastIndexOf('/');
        int dot = modelName.lastIndexOf('.');
        String base = dot > slash ? modelName.substring(0, dot) : modelName;
        return base + ".json";
    }

    private static LocalModel fetchLocal(String uri) throws IOException {
        Path model;
        try {
            model = uri.startsWith("file:") ? Paths.get(URI.create(uri)) : Paths.get(uri);
        } catch (IllegalArgumentException e) {
            throw new IOException("Invalid model URI '" + uri + "': " + e.getMessage(), e);
        }
        model = model.toAbsolutePath().normalize();
        Path metadata = model.resolveSibling(metadataNameFor(model.getFileName().toString()));
        if (!Files.isRegularFile(model)) {
            throw new FileNotFoundException("Model file not found: " + model + " (model URI " + uri + ")");
        }
        if (!Files.isRegularFile(metadata)) {
            throw new FileNotFoundException("Model metadata not found: " + metadata + " (beside model URI " + uri + ")");
        }
        return new LocalModel(uri, model, metadata, ModelMetadata.read(metadata));
    }

    /** With {@code withModel} false only the metadata is downloaded; the returned model file then does not exist. */
    private static LocalModel fetchS3(String uri, S3Access access, Path downloadDir, boolean withModel) throws IOException {
        String rest = uri.substring(uri.indexOf("://") + 3);
        int slash = rest.indexOf('/');
        if (slash <= 0 || slash == rest.length() - 1) {
            throw new IOException("Invalid model URI '" + uri + "': expected s3://bucket/key");
        }
        String bucket = rest.substring(0, slash);
        String key = rest.substring(slash + 1);
        String metadataKey = metadataNameFor(key);
        S3Access s3;
        try {
            s3 = access.resolved();
        } catch (IllegalArgumentException e) {
            throw new IOException("Cannot fetch " + uri + ": " + e.getMessage(), e);
        }
        Path dir = downloadDir != null ? downloadDir : Files.createTempDirectory("model-");
        Files.createDirectories(dir);
        Path model = dir.resolve(key.substring(key.lastIndexOf('/') + 1));
        Path metadata = dir.resolve(metadataKey.substring(metadataKey.lastIndexOf('/') + 1));

        MinioClient client = MinioClient.builder()
                .endpoint(s3.endpoint())
                .credentials(s3.accessKey(), s3.secretKey())
                .region(s3.region()) // a fixed region spares a GetBucketLocation round trip
                .build();
        // A socket read or write that waits longer is a dead connection. Also, the Okio classes in the job jar keep a
        // watchdog thread, and with it the job's classloader (~20 MB of TaskManager Metaspace), alive until the last
        // timeout of the download has run out plus 60 s: with MinIO's default of 5 min, ~6 min after a job was cancelled.
        client.setTimeout(S3_TIMEOUT_MILLIS, S3_TIMEOUT_MILLIS, S3_TIMEOUT_MILLIS);
        try {
            if (withModel) {
                download(client, s3, bucket, key, model, "s3://" + bucket + "/" + key);
            }
            download(client, s3, bucket, metadataKey, metadata, "s3://" + bucket + "/" + metadataKey);
        } finally {
            try {
                client.close(); // releases OkHttp's dispatcher and connection pool threads
            } catch (Exception e) {
                // closing is best effort
            }
        }
        return new LocalModel(uri, model, metadata, ModelMetadata.read(metadata));
    }

    private static void download(MinioClient client, S3Access s3, String bucket, String key, Path target, String objectUri)
            throws IOException {
        Path partial = target.resolveSibling(target.getFileName() + ".part");
        try (GetObjectResponse response = client.getObject(GetObjectArgs.builder().bucket(bucket).object(key).build());
             InputStream in = response) {
            Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (ErrorResponseException e) {
            String code = e.errorResponse() == null ? "?" : e.errorResponse().code();
            if ("NoSuchKey".equals(code) || "NoSuchBucket".equals(code) || "NoSuchObject".equals(code)) {
                throw new FileNotFoundException(
                        "Model artifact not found: " + objectUri + " (" + code + " at " + s3.endpoint() + ")");
            }
            throw new IOException("Cannot fetch " + objectUri + " from " + s3.endpoint() + ": " + code + " " + e.getMessage(), e);
        } catch (IOException e) {
            throw new IOException("Cannot fetch " + objectUri + " from " + s3.endpoint() + ": " + e.getMessage(), e);
        } catch (Exception e) { // MinIO's checked exceptions: keys, signatures, xml
            throw new IOException("Cannot fetch " + objectUri + " from " + s3.endpoint() + ": " + e, e);
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    private static String firstNonBlank(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v.trim();
            }
        }
        return null;
    }
}
