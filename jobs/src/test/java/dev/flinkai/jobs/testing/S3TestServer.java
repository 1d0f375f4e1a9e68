package dev.flinkai.jobs.testing;

import io.minio.BucketExistsArgs;
import io.minio.ListObjectsArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.UploadObjectArgs;
import io.minio.messages.Item;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.FileSystem;
import org.gaul.s3proxy.junit.S3ProxyExtension;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real S3 API server (S3Proxy, in this JVM) plus a MinIO client for it. Also points Flink's s3:// file system at
 * it: a MiniCluster does not push its configuration into the static file-system registry by itself.
 */
public final class S3TestServer implements AutoCloseable {

    public static final String ACCESS_KEY = "test-access";
    public static final String SECRET_KEY = "test-secret-key";

    private final S3ProxyExtension proxy = S3ProxyExtension.builder().withCredentials(ACCESS_KEY, SECRET_KEY).build();
    private final MinioClient client;

    public S3TestServer() throws Exception {
        proxy.beforeEach(null);
        client = MinioClient.builder().endpoint(endpoint()).credentials(ACCESS_KEY, SECRET_KEY).build();
        Configuration conf = new Configuration();
        conf.setString("s3.endpoint", endpoint());
        conf.setString("s3.path.style.access", "true");
        conf.setString("s3.access-key", ACCESS_KEY);
        conf.setString("s3.secret-key", SECRET_KEY);
        // as deploy/local/up.sh: S3A against S3Proxy stalls on bulk deletes without these
        conf.setString("s3.directory.marker.retention", "keep");
        conf.setString("s3.multiobjectdelete.enable", "false");
        FileSystem.initialize(conf, null);
    }

    public String endpoint() {
        String uri = proxy.getUri().toString();
        return uri.endsWith("/") ? uri.substring(0, uri.length() - 1) : uri;
    }

    public void createBucket(String bucket) throws Exception {
        if (!client.bucketExists(BucketExistsArgs.builder().bucket(bucket).build())) {
            client.makeBucket(MakeBucketArgs.builder().bucket(bucket).build());
        }
    }

    public void upload(String bucket, String key, Path file) throws Exception {
        client.uploadObject(UploadObjectArgs.builder().bucket(bucket).object(key).filename(file.toString()).build());
    }

    public List<String> list(String bucket, String prefix) throws Exception {
        List<String> keys = new ArrayList<>();
        for (Result<Item> item : client.listObjects(
                ListObjectsArgs.builder().bucket(bucket).prefix(prefix).recursive(true).build())) {
            keys.add(item.get().objectName());
        }
        return keys;
    }

    @Override
    public void close() throws Exception {
        client.close();
        proxy.afterEach(null);
    }
}
