package android.text;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.List;

/** Stub of android.text.SpannableString: immutable text, mutable markup (setSpan). */
public class SpannableString implements Spanned {
    private final String text;
    private final List<Object[]> spans = new ArrayList<>();

    public SpannableString(CharSequence source) { this.text = source.toString(); }

    public void setSpan(Object what, int start, int end, int flags) { spans.add(new Object[] {what, start, end}); }

    @SuppressWarnings("unchecked")
    public <T> T[] getSpans(int start, int end, Class<T> type) {
        List<T> found = new ArrayList<>();
        for (Object[] span : spans) {
            if (type.isInstance(span[0]) && (int) span[1] < end && (int) span[2] > start) found.add((T) span[0]);
        }
        return found.toArray((T[]) Array.newInstance(type, found.size()));
    }

    public int getSpanStart(Object tag) { for (Object[] s : spans) if (s[0] == tag) return (int) s[1]; return -1; }
    public int getSpanEnd(Object tag) { for (Object[] s : spans) if (s[0] == tag) return (int) s[2]; return -1; }
    public int length() { return text.length(); }
    public char charAt(int index) { return text.charAt(index); }
    public CharSequence subSequence(int start, int end) { return text.subSequence(start, end); }
    public String toString() { return text; }
}
