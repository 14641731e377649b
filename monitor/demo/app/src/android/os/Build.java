package android.os;

public class Build {
    public static final String MODEL = "Pixel 7";
    public static final String SERIAL = "unknown";
    public static String getSerial() { return "R58M12ABCDE"; }
}
