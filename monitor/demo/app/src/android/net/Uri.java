package android.net;

/** Stub of android.net.Uri: parse and authority, as the real class. */
public final class Uri {
    private final String text;
    private Uri(String text) { this.text = text; }
    public static Uri parse(String text) { return new Uri(text); }
    public String getAuthority() {
        String rest = text.contains("://") ? text.substring(text.indexOf("://") + 3) : text;
        int slash = rest.indexOf('/');
        return slash < 0 ? rest : rest.substring(0, slash);
    }
    public String toString() { return text; }
}
