/** bench/mapdb-kill: opens the store a killed Writer left and checks every key (see run.sh). */
import org.mapdb.*;
import java.io.File;
import java.util.*;

/** Opens the store, checks every key's value names the key. Prints ok N / BAD reason; max key. */
public class Check {
    public static void main(String[] a) {
        boolean mmap = a[1].equals("mmap");
        try {
            DBMaker.Maker m = DBMaker.fileDB(new File(a[0])).transactionEnable();
            if (mmap) m = m.fileMmapEnableIfSupported();
            DB db = m.make();
            BTreeMap<String, byte[]> map = db.treeMap("entries", Serializer.STRING, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable().createOrOpen();
            long n = 0; String max = "0";
            for (Map.Entry<String, byte[]> e : map.entrySet()) {
                String k = e.getKey();
                byte[] v = map.get(k);
                if (v == null) { System.out.println("BAD lookup-null " + k); System.exit(2); }
                String vk = new String(v, 0, 12);
                if (!vk.equals(k)) { System.out.println("BAD crossed " + k + " holds " + vk); System.exit(2); }
                String ik = new String(e.getValue(), 0, 12);
                if (!ik.equals(k)) { System.out.println("BAD crossed-iter " + k + " holds " + ik); System.exit(2); }
                n++; max = k;
            }
            db.close();
            System.out.println("ok " + n + " " + max);
        } catch (Throwable t) {
            System.out.println("BAD exception " + t);
            System.exit(2);
        }
    }
}
