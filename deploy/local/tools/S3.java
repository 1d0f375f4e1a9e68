// Tiny S3 client for the local stack (MinIO Java SDK 8.6, Java 17 single-file launch):
//   java -cp '.cache/tools/lib/*' tools/S3.java mb <bucket>...                    create buckets if missing
//   java -cp '.cache/tools/lib/*' tools/S3.java put <bucket> <key> <file>         upload a file
//   java -cp '.cache/tools/lib/*' tools/S3.java ls <bucket> [prefix] [max-shown]  list objects recursively, prints "count N"
//   java -cp '.cache/tools/lib/*' tools/S3.java ping                              lists buckets (readiness check)
// Endpoint and keys come from the environment: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY.
import io.minio.BucketExistsArgs;
import io.minio.ListObjectsArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.Result;
import io.minio.UploadObjectArgs;
import io.minio.messages.Item;

public class S3 {
    public static void main(String[] args) throws Exception {
        MinioClient s3 = MinioClient.builder().endpoint(System.getenv("S3_ENDPOINT"))
                .credentials(System.getenv("S3_ACCESS_KEY"), System.getenv("S3_SECRET_KEY")).build();
        int rc = 0;
        try {
            switch (args[0]) {
                case "ping" -> System.out.println("buckets " + s3.listBuckets().size());
                case "mb" -> {
                    for (int i = 1; i < args.length; i++) {
                        if (!s3.bucketExists(BucketExistsArgs.builder().bucket(args[i]).build())) {
                            s3.makeBucket(MakeBucketArgs.builder().bucket(args[i]).build());
                            System.out.println("created bucket " + args[i]);
                        } else {
                            System.out.println("bucket " + args[i] + " exists");
                        }
                    }
                }
                case "put" -> {
                    s3.uploadObject(UploadObjectArgs.builder().bucket(args[1]).object(args[2]).filename(args[3]).build());
                    System.out.println("uploaded " + args[3] + " to s3://" + args[1] + "/" + args[2]);
                }
                case "ls" -> {
                    String prefix = args.length > 2 ? args[2] : "";
                    int shown = args.length > 3 ? Integer.parseInt(args[3]) : 20;
                    long count = 0;
                    for (Result<Item> r : s3.listObjects(ListObjectsArgs.builder().bucket(args[1]).prefix(prefix).recursive(true).build())) {
                        Item item = r.get();
                        if (count++ < shown) {
                            System.out.println(item.objectName() + " " + item.size());
                        }
                    }
                    System.out.println("count " + count);
                }
                default -> throw new IllegalArgumentException("unknown command " + args[0]);
            }
        } catch (Exception e) {
            System.err.println("S3 " + String.join(" ", args) + ": " + e);
            rc = 1;
        } finally {
            s3.close();
        }
        System.exit(rc);
    }
}
