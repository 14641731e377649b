package android.widget;

/**
 * Stub of android.widget.TextView with the framework's dispatch: setText(CharSequence) is final and
 * hands the text to setText(CharSequence, BufferType), through which every text a TextView shows passes
 * (AOSP frameworks/base/core/java/android/widget/TextView.java).
 */
public class TextView extends android.view.View {
    public enum BufferType { NORMAL, SPANNABLE, EDITABLE }

    private CharSequence text = "";

    public TextView(CharSequence text) { setText(text); }

    public CharSequence getText() { return text; }

    public final void setText(CharSequence text) { setText(text, BufferType.NORMAL); }

    public void setText(CharSequence text, BufferType type) { this.text = text == null ? "" : text; }
}
