package android.content;

public class ClipData {
    private final CharSequence text;
    public ClipData(CharSequence text) { this.text = text; }
    public String toString() { return text.toString(); }
}
