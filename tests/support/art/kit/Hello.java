/**
 * The build's last step runs this on the new runtime: a runtime that prints the line is kept. The line is made
 * by a lambda and a stream of the core library: lambdas desugared (kit/tools/Desugar.java) work on both sides.
 */
public class Hello {
    public static void main(String[] args) {
        java.util.function.Function<String, String> greet = name -> "Hello from " + name;
        String vm = java.util.stream.Stream.of("java.vm.name", "java.vm.version").map(System::getProperty)
            .collect(java.util.stream.Collectors.joining(" "));
        System.out.println(greet.apply("ART") + ", vm=" + vm);
    }
}
