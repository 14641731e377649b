package android.text.style;

/** Stub of android.text.style.URLSpan: a clickable link inside text, opening its URL. */
public class URLSpan {
    private final String url;
    public URLSpan(String url) { this.url = url; }
    public String getURL() { return url; }
}
