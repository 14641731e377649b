package android.text;

/** Stub of android.text.Spanned: text with markup objects (links, styles) attached to ranges. */
public interface Spanned extends CharSequence {
    <T> T[] getSpans(int start, int end, Class<T> type);
    int getSpanStart(Object tag);
    int getSpanEnd(Object tag);
}
