import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.commons.ClassRemapper;
import org.objectweb.asm.commons.Remapper;

/**
 * Android ships ICU4J as android.icu; Debian ships it as com.ibm.icu. Renames every class, string
 * constant and resource path (ICU finds its data by resource name), and labels the classes version 52,
 * the newest dx reads.  usage: IcuRemap icu4j.jar android-icu4j.jar
 */
public final class IcuRemap {
    private static String rename(String text) {
        if (text == null) return null;
        return text.replace("com/ibm/icu", "android/icu").replace("com.ibm.icu", "android.icu");
    }

    public static void main(String[] args) throws Exception {
        Remapper remapper = new Remapper() {
            @Override public String map(String name) {
                return name.startsWith("com/ibm/icu/") ? "android/icu/" + name.substring("com/ibm/icu/".length()) : name;
            }
            @Override public Object mapValue(Object value) {
                return value instanceof String ? rename((String) value) : super.mapValue(value);
            }
        };
        Set<String> written = new HashSet<>();
        try (ZipInputStream in = new ZipInputStream(new FileInputStream(args[0]));
             ZipOutputStream out = new ZipOutputStream(new FileOutputStream(args[1]))) {
            for (ZipEntry entry; (entry = in.getNextEntry()) != null; ) {
                String name = entry.getName();
                if (entry.isDirectory() || name.startsWith("META-INF/") || name.endsWith("module-info.class") || name.endsWith(".html")) {
                    continue;
                }
                byte[] bytes = in.readAllBytes();
                if (name.endsWith(".class")) {
                    ClassWriter writer = new ClassWriter(0);
                    ClassVisitor version52 = new ClassVisitor(Opcodes.ASM9, writer) {
                        @Override public void visit(int version, int access, String n, String signature, String superName, String[] interfaces) {
                            super.visit(Math.min(version, Opcodes.V1_8), access, n, signature, superName, interfaces);
                        }
                    };
                    new ClassReader(bytes).accept(new ClassRemapper(version52, remapper), 0);
                    bytes = writer.toByteArray();
                    name = remapper.map(name.substring(0, name.length() - ".class".length())) + ".class";
                } else {
                    name = rename(name);
                }
                if (written.add(name)) {
                    out.putNextEntry(new ZipEntry(name));
                    out.write(bytes);
                    out.closeEntry();
                }
            }
        }
    }
}
