/** The build's last step runs this on the new runtime: a runtime that prints the line is kept. */
public class Hello {
    public static void main(String[] args) {
        System.out.println("Hello from ART, vm=" + System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
    }
}
