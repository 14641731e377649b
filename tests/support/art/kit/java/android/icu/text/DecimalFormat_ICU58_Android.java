package android.icu.text;

/** Android keeps ICU 58's DecimalFormat under this name; Debian's ICU4J has only the current one. */
public class DecimalFormat_ICU58_Android extends DecimalFormat {
    private static final long serialVersionUID = 1L;

    public DecimalFormat_ICU58_Android(String pattern, DecimalFormatSymbols symbols) {
        super(pattern, symbols);
    }
}
