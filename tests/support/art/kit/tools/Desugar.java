import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Host-only stand-in for D8's lambda desugaring (Debian has no D8): every invokedynamic whose bootstrap is
 * java.lang.invoke.LambdaMetafactory (metafactory / altMetafactory) becomes a class of its own, as D8 makes it
 * on the way into an APK, so no lambda ever reaches Android's LambdaMetafactory (which returns null).
 *
 * For each such call site in class H: a final synthetic class H$$ExternalSyntheticLambdaN implementing the
 * functional interface (with altMetafactory's marker interfaces and bridges), its captured values in fields;
 * the call site becomes `getstatic INSTANCE` (nothing captured) or `invokestatic create(captured…)`. The
 * lambda's body stays in H and loses `private`; a private instance body also becomes static, `this` its first
 * parameter (no virtual method is added, so no subclass can override it and no vtable grows: ART checks its
 * class roots' vtables, java.lang.String's among them); a method reference to another private member of H
 * (method, constructor) goes through a static accessor H.access$lambda$N. Everything
 * else javac already made accessible (it turns super::m, varargs, array constructors, protected members of
 * other packages into lambda$ methods). Classes without such call sites are copied byte for byte.
 *
 * usage: Desugar out.jar in.jar|folder...    (a later entry of a name already written is dropped)
 */
public final class Desugar {
    static final String LMF = "java/lang/invoke/LambdaMetafactory";
    static final int FLAG_SERIALIZABLE = 1, FLAG_MARKERS = 2, FLAG_BRIDGES = 4;

    public static void main(String[] args) throws Exception {
        Set<String> written = new HashSet<>();
        int rewritten = 0, lambdas = 0;
        try (ZipOutputStream out = new ZipOutputStream(new FileOutputStream(args[0]))) {
            for (int index = 1; index < args.length; index++) {
                Map<String, byte[]> entries = new LinkedHashMap<>();
                Path input = Paths.get(args[index]);
                if (Files.isDirectory(input)) {
                    try (Stream<Path> files = Files.walk(input)) {
                        for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                            entries.put(input.relativize(file).toString().replace('\\', '/'), Files.readAllBytes(file));
                        }
                    }
                } else {
                    try (ZipInputStream in = new ZipInputStream(new FileInputStream(args[index]))) {
                        for (ZipEntry entry; (entry = in.getNextEntry()) != null; ) {
                            if (!entry.isDirectory()) entries.putIfAbsent(entry.getName(), in.readAllBytes());
                        }
                    }
                }
                for (Map.Entry<String, byte[]> entry : entries.entrySet()) {
                    String name = entry.getKey();
                    if (!written.add(name)) continue;
                    byte[] bytes = entry.getValue();
                    Map<String, byte[]> extra = new LinkedHashMap<>();
                    if (name.endsWith(".class") && !name.endsWith("module-info.class")) {
                        Host host = new Host(new ClassReader(bytes));
                        if (!host.sites.isEmpty()) {
                            bytes = host.rewrite(extra);
                            rewritten++;
                            lambdas += extra.size();
                        }
                    }
                    put(out, name, bytes);
                    for (Map.Entry<String, byte[]> generated : extra.entrySet()) {
                        if (written.add(generated.getKey() + ".class")) put(out, generated.getKey() + ".class", generated.getValue());
                    }
                }
            }
        }
        System.out.println("desugared " + lambdas + " lambdas in " + rewritten + " classes");
    }

    static void put(ZipOutputStream out, String name, byte[] bytes) throws Exception {
        out.putNextEntry(new ZipEntry(name));
        out.write(bytes);
        out.closeEntry();
    }

    /** One LambdaMetafactory call site. */
    static final class Site {
        String samName;
        Type invokedType, samType, instantiatedType;
        Handle impl;
        List<String> interfaces = new ArrayList<>();
        List<Type> bridges = new ArrayList<>();
        String lambdaClass;
        Handle target;        // what the lambda class calls: impl, the body made static, or an accessor
    }

    static final class Host {
        final ClassReader reader;
        final String name;
        final boolean isInterface;
        final Map<String, Integer> methods = new HashMap<>();   // name + desc -> access
        final Map<String, Site> sites = new LinkedHashMap<>();  // indy identity -> site, in order
        final Map<String, String> staticized = new HashMap<>(); // name + desc of a private instance body -> its static desc
        final Set<String> unprivate = new HashSet<>();          // name + desc of bodies that lose `private`
        final List<Handle[]> accessors = new ArrayList<>();     // {accessor, impl}

        Host(ClassReader reader) {
            this.reader = reader;
            this.name = reader.getClassName();
            this.isInterface = (reader.getAccess() & Opcodes.ACC_INTERFACE) != 0;
            reader.accept(new ClassVisitor(Opcodes.ASM9) {
                @Override public MethodVisitor visitMethod(int access, String n, String d, String s, String[] e) {
                    methods.put(n + d, access);
                    return new MethodVisitor(Opcodes.ASM9) {
                        @Override public void visitInvokeDynamicInsn(String samName, String desc, Handle bsm, Object... bsmArgs) {
                            if (bsm.getOwner().equals(LMF)) site(samName, desc, bsm, bsmArgs);
                        }
                    };
                }
            }, ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
            for (Site site : sites.values()) plan(site);
        }

        static String key(String samName, String desc, Handle bsm, Object[] bsmArgs) {
            return samName + desc + bsm + Arrays.deepToString(bsmArgs);
        }

        void site(String samName, String desc, Handle bsm, Object[] bsmArgs) {
            String key = key(samName, desc, bsm, bsmArgs);
            if (sites.containsKey(key)) return;   // an identical call site (the same method reference twice): one class serves both
            Site site = new Site();
            site.samName = samName;
            site.invokedType = Type.getMethodType(desc);
            site.samType = (Type) bsmArgs[0];
            site.impl = (Handle) bsmArgs[1];
            site.instantiatedType = (Type) bsmArgs[2];
            site.interfaces.add(site.invokedType.getReturnType().getInternalName());
            if (bsm.getName().equals("altMetafactory")) {
                int flags = (Integer) bsmArgs[3], at = 4;
                if ((flags & FLAG_MARKERS) != 0) {
                    int count = (Integer) bsmArgs[at++];
                    for (int i = 0; i < count; i++) addOnce(site.interfaces, ((Type) bsmArgs[at++]).getInternalName());
                }
                if ((flags & FLAG_BRIDGES) != 0) {
                    int count = (Integer) bsmArgs[at++];
                    for (int i = 0; i < count; i++) site.bridges.add((Type) bsmArgs[at++]);
                }
                if ((flags & FLAG_SERIALIZABLE) != 0) addOnce(site.interfaces, "java/io/Serializable");
            } else if (!bsm.getName().equals("metafactory")) {
                throw new IllegalStateException(name + ": unknown LambdaMetafactory bootstrap " + bsm.getName());
            }
            site.lambdaClass = name + "$$ExternalSyntheticLambda" + sites.size();
            sites.put(key, site);
        }

        static Type[] prepend(Type first, Type[] rest) {
            Type[] all = new Type[rest.length + 1];
            all[0] = first;
            System.arraycopy(rest, 0, all, 1, rest.length);
            return all;
        }

        static void addOnce(List<String> list, String item) {
            if (!list.contains(item)) list.add(item);
        }

        /** How the lambda class reaches the implementation from outside H. */
        void plan(Site site) {
            Handle impl = site.impl;
            Integer access = impl.getOwner().equals(name) ? methods.get(impl.getName() + impl.getDesc()) : null;
            if (access == null || (access & Opcodes.ACC_PRIVATE) == 0) {
                site.target = impl;
                return;
            }
            String member = impl.getName() + impl.getDesc();
            boolean body = impl.getName().startsWith("lambda$") && (access & Opcodes.ACC_SYNTHETIC) != 0;
            if (body && impl.getTag() == Opcodes.H_INVOKESTATIC) {
                unprivate.add(member);
                site.target = impl;
            } else if (body && impl.getTag() == Opcodes.H_INVOKESPECIAL) {
                // An instance body becomes static, `this` its first parameter (the same local 0): no virtual method
                // is added (ART checks the vtables of its class roots, java.lang.String among them, against its own).
                String desc = Type.getMethodDescriptor(Type.getReturnType(impl.getDesc()),
                                                       prepend(Type.getObjectType(name), Type.getArgumentTypes(impl.getDesc())));
                staticized.put(member, desc);
                unprivate.add(member);
                site.target = new Handle(Opcodes.H_INVOKESTATIC, name, impl.getName(), desc, isInterface);
            } else {
                // A method reference to another private member of H: a static accessor in H calls it.
                Type type = Type.getMethodType(impl.getDesc());
                String desc;
                if (impl.getTag() == Opcodes.H_NEWINVOKESPECIAL) {
                    desc = Type.getMethodDescriptor(Type.getObjectType(name), type.getArgumentTypes());
                } else if (impl.getTag() == Opcodes.H_INVOKESTATIC) {
                    desc = impl.getDesc();
                } else {
                    desc = Type.getMethodDescriptor(type.getReturnType(), prepend(Type.getObjectType(name), type.getArgumentTypes()));
                }
                Handle accessor = new Handle(Opcodes.H_INVOKESTATIC, name, "access$lambda$" + accessors.size(), desc, isInterface);
                accessors.add(new Handle[] {accessor, impl});
                site.target = accessor;
            }
        }

        byte[] rewrite(Map<String, byte[]> extra) {
            ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_MAXS);
            reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
                @Override public MethodVisitor visitMethod(int access, String n, String d, String s, String[] e) {
                    String member = n + d;
                    if (unprivate.contains(member)) {
                        access = (access & ~Opcodes.ACC_PRIVATE) | (isInterface ? Opcodes.ACC_PUBLIC : 0);
                    }
                    if (staticized.containsKey(member)) {
                        access |= Opcodes.ACC_STATIC;
                        d = staticized.get(member);
                        s = null;
                    }
                    return new MethodVisitor(Opcodes.ASM9, super.visitMethod(access, n, d, s, e)) {
                        @Override public void visitInvokeDynamicInsn(String samName, String desc, Handle bsm, Object... bsmArgs) {
                            Site site = sites.get(key(samName, desc, bsm, bsmArgs));
                            if (site == null) {
                                super.visitInvokeDynamicInsn(samName, desc, bsm, bsmArgs);
                            } else if (site.invokedType.getArgumentTypes().length == 0) {
                                super.visitFieldInsn(Opcodes.GETSTATIC, site.lambdaClass, "INSTANCE", "L" + site.lambdaClass + ";");
                            } else {
                                super.visitMethodInsn(Opcodes.INVOKESTATIC, site.lambdaClass, "create",
                                    Type.getMethodDescriptor(Type.getObjectType(site.lambdaClass), site.invokedType.getArgumentTypes()), false);
                            }
                        }
                        @Override public void visitMethodInsn(int opcode, String owner, String mn, String md, boolean itf) {
                            String desc = owner.equals(name) && opcode == Opcodes.INVOKESPECIAL ? staticized.get(mn + md) : null;
                            if (desc != null) {
                                opcode = Opcodes.INVOKESTATIC;
                                md = desc;
                            }
                            super.visitMethodInsn(opcode, owner, mn, md, itf);
                        }
                    };
                }
                @Override public void visitEnd() {
                    for (Handle[] pair : accessors) accessor(cv, pair[0], pair[1]);
                    super.visitEnd();
                }
            }, 0);
            for (Site site : sites.values()) extra.put(site.lambdaClass, lambdaClass(site));
            return writer.toByteArray();
        }

        void accessor(ClassVisitor cv, Handle accessor, Handle impl) {
            int access = Opcodes.ACC_STATIC | Opcodes.ACC_SYNTHETIC | (isInterface ? Opcodes.ACC_PUBLIC : 0);
            MethodVisitor mv = cv.visitMethod(access, accessor.getName(), accessor.getDesc(), null, null);
            mv.visitCode();
            if (impl.getTag() == Opcodes.H_NEWINVOKESPECIAL) {
                mv.visitTypeInsn(Opcodes.NEW, impl.getOwner());
                mv.visitInsn(Opcodes.DUP);
            }
            int slot = 0;
            for (Type param : Type.getMethodType(accessor.getDesc()).getArgumentTypes()) {
                mv.visitVarInsn(param.getOpcode(Opcodes.ILOAD), slot);
                slot += param.getSize();
            }
            int opcode = impl.getTag() == Opcodes.H_INVOKESTATIC ? Opcodes.INVOKESTATIC
                : impl.getTag() == Opcodes.H_INVOKEINTERFACE ? Opcodes.INVOKEINTERFACE : Opcodes.INVOKESPECIAL;
            mv.visitMethodInsn(opcode, impl.getOwner(), impl.getName(), impl.getDesc(), impl.isInterface());
            mv.visitInsn(Type.getMethodType(accessor.getDesc()).getReturnType().getOpcode(Opcodes.IRETURN));
            mv.visitMaxs(0, 0);
            mv.visitEnd();
        }
    }

    static byte[] lambdaClass(Site site) {
        ClassWriter cw = new ClassWriter(ClassWriter.COMPUTE_MAXS);
        String self = site.lambdaClass;
        Type[] captured = site.invokedType.getArgumentTypes();
        cw.visit(Opcodes.V1_8, Opcodes.ACC_FINAL | Opcodes.ACC_SUPER | Opcodes.ACC_SYNTHETIC, self, null, "java/lang/Object",
                 site.interfaces.toArray(new String[0]));
        for (int i = 0; i < captured.length; i++) {
            cw.visitField(Opcodes.ACC_PRIVATE | Opcodes.ACC_FINAL | Opcodes.ACC_SYNTHETIC, "f$" + i, captured[i].getDescriptor(), null, null).visitEnd();
        }
        // The constructor keeps what the call site captured.
        MethodVisitor mv = cw.visitMethod(Opcodes.ACC_PRIVATE, "<init>", Type.getMethodDescriptor(Type.VOID_TYPE, captured), null, null);
        mv.visitCode();
        mv.visitVarInsn(Opcodes.ALOAD, 0);
        mv.visitMethodInsn(Opcodes.INVOKESPECIAL, "java/lang/Object", "<init>", "()V", false);
        int slot = 1;
        for (int i = 0; i < captured.length; i++) {
            mv.visitVarInsn(Opcodes.ALOAD, 0);
            mv.visitVarInsn(captured[i].getOpcode(Opcodes.ILOAD), slot);
            mv.visitFieldInsn(Opcodes.PUTFIELD, self, "f$" + i, captured[i].getDescriptor());
            slot += captured[i].getSize();
        }
        mv.visitInsn(Opcodes.RETURN);
        mv.visitMaxs(0, 0);
        mv.visitEnd();
        if (captured.length == 0) {
            // Nothing captured: one instance, as LambdaMetafactory returns for a non-capturing lambda.
            cw.visitField(Opcodes.ACC_STATIC | Opcodes.ACC_FINAL | Opcodes.ACC_SYNTHETIC, "INSTANCE", "L" + self + ";", null, null).visitEnd();
            mv = cw.visitMethod(Opcodes.ACC_STATIC, "<clinit>", "()V", null, null);
            mv.visitCode();
            mv.visitTypeInsn(Opcodes.NEW, self);
            mv.visitInsn(Opcodes.DUP);
            mv.visitMethodInsn(Opcodes.INVOKESPECIAL, self, "<init>", "()V", false);
            mv.visitFieldInsn(Opcodes.PUTSTATIC, self, "INSTANCE", "L" + self + ";");
            mv.visitInsn(Opcodes.RETURN);
            mv.visitMaxs(0, 0);
            mv.visitEnd();
        } else {
            mv = cw.visitMethod(Opcodes.ACC_STATIC | Opcodes.ACC_SYNTHETIC, "create",
                                Type.getMethodDescriptor(Type.getObjectType(self), captured), null, null);
            mv.visitCode();
            mv.visitTypeInsn(Opcodes.NEW, self);
            mv.visitInsn(Opcodes.DUP);
            slot = 0;
            for (Type type : captured) {
                mv.visitVarInsn(type.getOpcode(Opcodes.ILOAD), slot);
                slot += type.getSize();
            }
            mv.visitMethodInsn(Opcodes.INVOKESPECIAL, self, "<init>", Type.getMethodDescriptor(Type.VOID_TYPE, captured), false);
            mv.visitInsn(Opcodes.ARETURN);
            mv.visitMaxs(0, 0);
            mv.visitEnd();
        }
        Set<String> descriptors = new LinkedHashSet<>();
        descriptors.add(site.samType.getDescriptor());
        for (Type bridge : site.bridges) descriptors.add(bridge.getDescriptor());
        for (String descriptor : descriptors) forward(cw, site, Type.getMethodType(descriptor));
        cw.visitEnd();
        return cw.toByteArray();
    }

    /** The interface method `type`: captured values and arguments, adapted, to the implementation; its result back. */
    static void forward(ClassWriter cw, Site site, Type type) {
        MethodVisitor mv = cw.visitMethod(Opcodes.ACC_PUBLIC, site.samName, type.getDescriptor(), null, null);
        mv.visitCode();
        Handle target = site.target;
        Type targetType = Type.getMethodType(target.getDesc());
        List<Type> params = new ArrayList<>();
        Type result;
        int tag = target.getTag();
        if (tag == Opcodes.H_NEWINVOKESPECIAL) {
            mv.visitTypeInsn(Opcodes.NEW, target.getOwner());
            mv.visitInsn(Opcodes.DUP);
            result = Type.getObjectType(target.getOwner());
        } else {
            result = targetType.getReturnType();
            if (tag != Opcodes.H_INVOKESTATIC) params.add(Type.getObjectType(target.getOwner()));
        }
        params.addAll(Arrays.asList(targetType.getArgumentTypes()));
        Type[] captured = site.invokedType.getArgumentTypes();
        Type[] args = type.getArgumentTypes();
        Type[] hints = site.instantiatedType.getArgumentTypes();
        if (captured.length + args.length != params.size()) {
            throw new IllegalStateException(site.lambdaClass + ": " + captured.length + " captured + " + args.length
                + " arguments for " + target + " (" + params.size() + " parameters)");
        }
        int index = 0;
        for (int i = 0; i < captured.length; i++, index++) {
            mv.visitVarInsn(Opcodes.ALOAD, 0);
            mv.visitFieldInsn(Opcodes.GETFIELD, site.lambdaClass, "f$" + i, captured[i].getDescriptor());
            convert(mv, captured[i], params.get(index), captured[i]);
        }
        int slot = 1;
        for (int i = 0; i < args.length; i++, index++) {
            mv.visitVarInsn(args[i].getOpcode(Opcodes.ILOAD), slot);
            slot += args[i].getSize();
            convert(mv, args[i], params.get(index), i < hints.length ? hints[i] : args[i]);
        }
        int opcode;
        switch (tag) {
            case Opcodes.H_INVOKESTATIC: opcode = Opcodes.INVOKESTATIC; break;
            case Opcodes.H_INVOKEINTERFACE: opcode = Opcodes.INVOKEINTERFACE; break;
            case Opcodes.H_INVOKEVIRTUAL: opcode = Opcodes.INVOKEVIRTUAL; break;
            case Opcodes.H_NEWINVOKESPECIAL: opcode = Opcodes.INVOKESPECIAL; break;
            default: throw new IllegalStateException(site.lambdaClass + ": cannot call " + target + " from outside its class");
        }
        mv.visitMethodInsn(opcode, target.getOwner(), target.getName(), target.getDesc(), target.isInterface());
        Type returns = type.getReturnType();
        convert(mv, result, returns, site.instantiatedType.getReturnType());
        mv.visitInsn(returns.getOpcode(Opcodes.IRETURN));
        mv.visitMaxs(0, 0);
        mv.visitEnd();
    }

    static boolean isPrimitive(Type type) {
        return type.getSort() >= Type.BOOLEAN && type.getSort() <= Type.DOUBLE;
    }

    static final String[][] BOXES = {
        {"Z", "java/lang/Boolean", "booleanValue"}, {"C", "java/lang/Character", "charValue"},
        {"B", "java/lang/Byte", "byteValue"}, {"S", "java/lang/Short", "shortValue"}, {"I", "java/lang/Integer", "intValue"},
        {"F", "java/lang/Float", "floatValue"}, {"J", "java/lang/Long", "longValue"}, {"D", "java/lang/Double", "doubleValue"},
    };

    static String[] box(Type primitive) {
        for (String[] row : BOXES) if (row[0].equals(primitive.getDescriptor())) return row;
        throw new IllegalStateException("no box for " + primitive);
    }

    static Type unboxed(Type reference) {
        for (String[] row : BOXES) if (row[1].equals(reference.getInternalName())) return Type.getType(row[0]);
        return null;
    }

    /** The value of type `from` on the stack becomes a `to` (LambdaMetafactory's adaptations); `hint` is the
     *  instantiated type, which names the box to unbox from an erased reference. */
    static void convert(MethodVisitor mv, Type from, Type to, Type hint) {
        if (from.equals(to)) return;
        if (to.getSort() == Type.VOID) {
            mv.visitInsn(from.getSize() == 2 ? Opcodes.POP2 : Opcodes.POP);
            return;
        }
        if (from.getSort() == Type.VOID) {
            mv.visitInsn(Opcodes.ACONST_NULL);
            return;
        }
        boolean fromPrimitive = isPrimitive(from), toPrimitive = isPrimitive(to);
        if (!fromPrimitive && !toPrimitive) {
            if (!to.getDescriptor().equals("Ljava/lang/Object;")) mv.visitTypeInsn(Opcodes.CHECKCAST, to.getInternalName());
        } else if (!fromPrimitive) {
            Type primitive = unboxed(from);
            if (primitive == null) primitive = hint.getSort() == Type.OBJECT ? unboxed(hint) : null;
            if (primitive == null) primitive = to;
            String[] row = box(primitive);
            if (!from.getInternalName().equals(row[1])) mv.visitTypeInsn(Opcodes.CHECKCAST, row[1]);
            mv.visitMethodInsn(Opcodes.INVOKEVIRTUAL, row[1], row[2], "()" + row[0], false);
            widen(mv, primitive, to);
        } else if (toPrimitive) {
            widen(mv, from, to);
        } else {
            Type primitive = from;
            Type target = unboxed(to) != null ? unboxed(to) : (hint.getSort() == Type.OBJECT ? unboxed(hint) : null);
            if (target != null && !target.equals(from)) {
                widen(mv, from, target);
                primitive = target;
            }
            String[] row = box(primitive);
            mv.visitMethodInsn(Opcodes.INVOKESTATIC, row[1], "valueOf", "(" + row[0] + ")L" + row[1] + ";", false);
        }
    }

    static void widen(MethodVisitor mv, Type from, Type to) {
        int f = from.getSort(), t = to.getSort();
        if (f == t) return;
        boolean fromInt = f == Type.BOOLEAN || f == Type.CHAR || f == Type.BYTE || f == Type.SHORT || f == Type.INT;
        if (fromInt) {
            if (t == Type.LONG) mv.visitInsn(Opcodes.I2L);
            else if (t == Type.FLOAT) mv.visitInsn(Opcodes.I2F);
            else if (t == Type.DOUBLE) mv.visitInsn(Opcodes.I2D);
        } else if (f == Type.LONG) {
            if (t == Type.FLOAT) mv.visitInsn(Opcodes.L2F);
            else if (t == Type.DOUBLE) mv.visitInsn(Opcodes.L2D);
        } else if (f == Type.FLOAT && t == Type.DOUBLE) {
            mv.visitInsn(Opcodes.F2D);
        }
    }
}
