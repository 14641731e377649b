import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.MethodVisitor;
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

    /**
     * Debian compiles ICU4J with a JDK newer than 8, so its calls to ByteBuffer.position(int) and the like name
     * Java 9's covariant overrides (returning ByteBuffer), which Android 10's java.nio lacks (NoSuchMethodError, e.g.
     * under java.net.IDN.toASCII): they become calls of Buffer's own method, cast back. Android builds its ICU from
     * source against its own library, so a phone never has such calls in android.icu.
     */
    static final class Java8Buffers extends MethodVisitor {
        static final Set<String> COVARIANT = new HashSet<>(Arrays.asList("position", "limit", "mark", "reset", "clear", "flip", "rewind"));

        Java8Buffers(MethodVisitor next) {
            super(Opcodes.ASM9, next);
        }

        @Override public void visitMethodInsn(int opcode, String owner, String name, String desc, boolean itf) {
            if (opcode == Opcodes.INVOKEVIRTUAL && owner.startsWith("java/nio/") && owner.endsWith("Buffer")
                    && !owner.equals("java/nio/Buffer") && COVARIANT.contains(name) && desc.endsWith(")L" + owner + ";")) {
                super.visitMethodInsn(opcode, "java/nio/Buffer", name, desc.substring(0, desc.indexOf(')') + 1) + "Ljava/nio/Buffer;", false);
                super.visitTypeInsn(Opcodes.CHECKCAST, owner);
                return;
            }
            super.visitMethodInsn(opcode, owner, name, desc, itf);
        }
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
                        @Override public MethodVisitor visitMethod(int access, String n, String d, String signature, String[] exceptions) {
                            return new Java8Buffers(super.visitMethod(access, n, d, signature, exceptions));
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
