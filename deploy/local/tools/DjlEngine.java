// Unpacks DJL's PyTorch native library into ENGINE_CACHE_DIR once, so the TaskManager's first model load does not
// (432 MB, ~5 s on 2 cores, which otherwise delays the main job's first start past its first checkpoint trigger):
//   ENGINE_CACHE_DIR=.cache/djl java -Dai.djl.offline=true -cp '.cache/cluster/lib/*' tools/DjlEngine.java
public class DjlEngine {
    public static void main(String[] args) {
        ai.djl.engine.Engine engine = ai.djl.engine.Engine.getEngine("PyTorch");
        System.out.println("DJL engine " + engine.getEngineName() + " " + engine.getVersion() + " ready");
    }
}
